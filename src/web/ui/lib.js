// Shared pieces of the status UI: DOM building, API access, formatting, routing and
// the filter controls. Everything is built with DOM calls and textContent, never
// innerHTML, so rule text can never inject markup.

// API calls go under BASE (the path prefix, plus /vmalert when the page was served
// there); /-/reload exists only under ROOT (the path prefix).
export const BASE = document.documentElement.dataset.base || "";
export const ROOT = document.documentElement.dataset.root || "";

let cache = new Map(); // API path -> promise of data, cleared by Refresh

/** Forgets every cached API answer (Refresh). */
export function clearCache() {
  cache = new Map();
}

/** Tells screen readers what a filter left (the page's status region). */
export function announce(text) {
  const el = document.getElementById("announce");
  if (el && el.textContent !== text) el.textContent = text;
}

/** Asks the app to reload data and redraw the current page. */
export function requestRefresh() {
  window.dispatchEvent(new Event("tocsin:refresh"));
}

/** Builds an element: h("a", {href: "#"}, "text", child, …). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export class ApiError extends Error {}

/** GETs an API path (under the path prefix) and returns its `data` (or the bare object). */
export async function api(path) {
  let resp;
  try {
    resp = await fetch(BASE + path, { headers: { Accept: "application/json" } });
  } catch (e) {
    throw new ApiError(`cannot reach tocsin: ${e.message}`);
  }
  let body;
  try {
    body = await resp.json();
  } catch (e) {
    throw new ApiError(`${path}: HTTP ${resp.status}, not JSON`);
  }
  if (!resp.ok || body.status === "error") {
    throw new ApiError(`${path}: ${body.error || "HTTP " + resp.status}`);
  }
  const data = body.data !== undefined && body.status ? body.data : body;
  // A cluster member's merged answer names the members that did not answer.
  if (Array.isArray(body.warnings) && data && typeof data === "object") {
    Object.defineProperty(data, "warnings", { value: body.warnings });
  }
  return data;
}

/**
 * This member's place in a cluster (null when it is not clustered): its own name, and how
 * to show a member (static sharding names members by number, dynamic by address).
 */
export async function clusterInfo() {
  const c = (await cached("/api/v1/status")).cluster;
  if (!c) return null;
  const addr = new Map(c.members.map((m) => [m.name, m.address]));
  const self = c.members.find((m) => m.self)?.name ?? null;
  const label = (name) => {
    const a = addr.get(name);
    return a && a !== name ? `member ${name} (${a})` : `member ${name}`;
  };
  return { self, label, status: c };
}

/** A merged answer some members did not contribute to: the banner saying so, else "". */
export function partialBanner(data) {
  if (!data.partial) return "";
  return h("div", { class: "banner err", id: "cluster-partial", role: "alert" },
    "Part of the cluster did not answer; its groups are shown as loaded, not evaluated.",
    h("ul", {}, (data.warnings || []).map((w) => h("li", {}, w))));
}

export function cached(path) {
  if (!cache.has(path)) {
    const p = api(path);
    p.catch(() => cache.delete(path));
    cache.set(path, p);
  }
  return cache.get(path);
}

export const ZERO_TIME = "0001-01-01T00:00:00Z";

export function parseTime(iso) {
  if (!iso || iso === ZERO_TIME) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

function ago(ms) {
  let s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s ago`;
  const hr = Math.floor(m / 60);
  if (hr < 48) return `${hr}h ${m % 60}m ago`;
  return `${Math.floor(hr / 24)}d ${hr % 24}h ago`;
}

/** A <time> element: relative text, exact UTC time as tooltip and datetime. */
export function when(iso) {
  const t = parseTime(iso);
  if (t === null) return h("span", { class: "muted" }, "never");
  return h("time", { datetime: iso, title: new Date(t).toISOString() }, ago(t));
}

export function seconds(x) {
  if (typeof x !== "number") return "";
  if (x === 0) return "0";
  if (x < 0.001) return `${(x * 1e6).toFixed(0)}µs`;
  if (x < 1) return `${(x * 1000).toFixed(x < 0.01 ? 2 : 1)}ms`;
  return `${x.toFixed(x < 10 ? 2 : 1)}s`;
}

/** Rule-file style duration: 90 -> "1m30s". */
export function span(sec) {
  if (!sec) return "0s";
  let s = Math.round(sec);
  const parts = [];
  for (const [u, n] of [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]]) {
    if (s >= n) {
      parts.push(Math.floor(s / n) + u);
      s %= n;
    }
  }
  return parts.join("") || `${sec}s`;
}

/** An alert value (Prometheus' "1e+00" strings) as a person reads it: "1", "0.25". */
export function value(v) {
  const n = Number(v);
  return h("span", { title: v }, Number.isFinite(n) ? String(n) : v);
}

export function badge(text, kind) {
  return h("span", { class: `badge b-${kind || text}` }, text);
}

/**
 * A rule's or group's pause (`paused` in /api/v1/rules): who paused it, why, until
 * when, and the note, as one line a person reads without hovering.
 */
export function pausedNote(p) {
  if (!p) return "";
  const until = parseTime(p.until);
  return h("span", { class: "paused", "data-paused-by": p.by },
    badge(p.hold ? "paused (held)" : "paused", "paused"), " ",
    `by ${p.by}: ${p.reason}`,
    p.note ? ` (${p.note})` : "",
    until === null ? "" : [" · until ", h("time", { datetime: p.until }, new Date(until).toLocaleString())]);
}

export function labelChips(labels, skip) {
  const keys = Object.keys(labels || {}).filter((k) => k !== skip).sort();
  if (!keys.length) return h("span", { class: "muted" }, "—");
  return h("span", { class: "labels" },
    keys.map((k) => h("span", { class: "label" }, h("b", {}, k), "=", labels[k])));
}

export function copyButton(text) {
  return h("button", {
    type: "button", class: "copy", "aria-label": "Copy to clipboard",
    onclick: async (e) => {
      const b = e.currentTarget;
      try {
        await navigator.clipboard.writeText(text);
        b.textContent = "copied";
      } catch (_) {
        b.textContent = "select and copy";
      }
      setTimeout(() => { b.textContent = "copy"; }, 1500);
    },
  }, "copy");
}

export function ruleLink(groupId, ruleId, text) {
  return h("a", { href: `#/rule/${groupId}/${ruleId}` }, text);
}

export function route() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query] = raw.split("?", 2);
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { page: parts[0] || "groups", parts, args: new URLSearchParams(query || "") };
}

/** Rewrites the current route's query without a navigation (filters typing). */
export function setArgs(args) {
  const r = route();
  const qs = args.toString();
  const hash = `#/${r.parts.map(encodeURIComponent).join("/") || r.page}${qs ? "?" + qs : ""}`;
  history.replaceState(null, "", hash);
}

/** Parses "k=v k2=~re k3!=x k4" into predicates over a label object. */
export function labelMatchers(text) {
  const out = [];
  for (const tok of (text || "").split(/[\s,]+/).filter(Boolean)) {
    const m = /^([^=!~]+)(=~|!~|!=|=)?(.*)$/.exec(tok);
    if (!m) continue;
    const [, k, op, v] = m;
    const val = v.replace(/^"(.*)"$/, "$1");
    let re = null;
    if (op === "=~" || op === "!~") {
      try { re = new RegExp(`^(?:${val})$`); } catch (_) { re = /$^/; }
    }
    out.push((ls) => {
      const have = ls[k];
      switch (op) {
        case "=": return have === val || (val === "" && have === undefined);
        case "!=": return have !== val;
        case "=~": return re.test(have ?? "");
        case "!~": return !re.test(have ?? "");
        default: return have !== undefined;
      }
    });
  }
  return out;
}

/** The Group filter: part of a name, or the exact name in double quotes. */
export function groupMatcher(text) {
  const t = (text || "").trim();
  if (!t) return null;
  const exact = /^"(.*)"$/.exec(t);
  if (exact) return (name) => name === exact[1];
  const low = t.toLowerCase();
  return (name) => name.toLowerCase().includes(low);
}

export function words(text) {
  return (text || "").toLowerCase().split(/\s+/).filter(Boolean);
}

export function filterForm(fields, args, onChange) {
  const form = h("form", { class: "filters", role: "search", onsubmit: (e) => e.preventDefault() });
  let t = null;
  const changed = () => {
    clearTimeout(t);
    t = setTimeout(() => {
      for (const f of fields) {
        const v = form.elements[f.name].value.trim();
        if (v) args.set(f.name, v); else args.delete(f.name);
      }
      args.delete("page");
      setArgs(args);
      onChange();
    }, 150);
  };
  for (const f of fields) {
    let input;
    if (f.options) {
      input = h("select", { name: f.name, onchange: changed },
        f.options.map(([v, label]) => h("option", { value: v, selected: args.get(f.name) === v }, label)));
    } else {
      input = h("input", {
        type: "search", name: f.name, value: args.get(f.name) || "", placeholder: f.placeholder,
        autocomplete: "off", spellcheck: "false", oninput: changed, list: f.list,
      });
    }
    form.append(h("label", {}, f.label, input));
  }
  return form;
}

export function pager(total, perPage, args, onPage) {
  const pagesN = Math.max(1, Math.ceil(total / perPage));
  const cur = Math.min(pagesN, Math.max(1, parseInt(args.get("page") || "1", 10) || 1));
  const nav = h("nav", { class: "pager", "aria-label": "Pages" });
  if (pagesN > 1) {
    const link = (p, text) => {
      const a = new URLSearchParams(args);
      a.set("page", p);
      return h("a", {
        href: `#/${route().page}?${a}`,
        onclick: (e) => { e.preventDefault(); args.set("page", p); setArgs(args); onPage(); window.scrollTo(0, 0); },
        "aria-label": `Page ${p}`,
      }, text);
    };
    if (cur > 1) nav.append(link(cur - 1, "‹ previous"));
    const shown = new Set([1, pagesN, cur - 2, cur - 1, cur, cur + 1, cur + 2]);
    let last = 0;
    for (let p = 1; p <= pagesN; p++) {
      if (!shown.has(p)) continue;
      if (p > last + 1) nav.append(h("span", { class: "muted" }, "…"));
      nav.append(p === cur ? h("span", { class: "cur", "aria-current": "page" }, p) : link(p, p));
      last = p;
    }
    if (cur < pagesN) nav.append(link(cur + 1, "next ›"));
  }
  return { nav, start: (cur - 1) * perPage, cur, pagesN };
}

export function annotations(ann) {
  const keys = Object.keys(ann || {});
  if (!keys.length) return h("span", { class: "muted" }, "—");
  const order = ["summary", "description"];
  keys.sort((a, b) => (order.indexOf(a) + 1 || 9) - (order.indexOf(b) + 1 || 9) || a.localeCompare(b));
  return h("dl", { class: "kv ann" }, keys.map((k) => [h("dt", {}, k), h("dd", {}, ann[k])]));
}
