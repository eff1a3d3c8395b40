// tocsin status UI: a small client of tocsin's JSON API, no framework, no build step.
//
// Pages are hash routes (#/groups, #/alerts, #/rule/<group_id>/<rule_id>, #/notifiers,
// #/config); filters live in the route's query string so that a filtered view is a link
// that can be shared, and the back button works. Everything is built with DOM calls and
// textContent, never innerHTML, so rule text can never inject markup.
//
// Scale: with 10,000 rules the Groups page fetches /api/v1/rules once, indexes it, filters
// before rendering, shows 50 groups per page collapsed, and renders a group's rules only
// when it is opened (or when a filter is active, which keeps the rendered set small).
"use strict";

(() => {
  // API calls go under BASE (the path prefix, plus /vmalert when the page was served
  // there); /-/reload exists only under ROOT (the path prefix).
  const BASE = document.documentElement.dataset.base || "";
  const ROOT = document.documentElement.dataset.root || "";
  const GROUPS_PER_PAGE = 50;
  const ALERTS_PER_PAGE = 100;
  const main = document.getElementById("main");
  const openGroups = new Set(); // group ids the user opened, kept across refreshes
  let cache = new Map(); // API path -> promise of data, cleared by Refresh
  let autoTimer = null;

  // ---------- small helpers ----------

  /** Builds an element: h("a", {href: "#"}, "text", child, …). */
  function h(tag, attrs, ...children) {
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

  class ApiError extends Error {}

  /** GETs an API path (under the path prefix) and returns its `data` (or the bare object). */
  async function api(path) {
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
    return body.data !== undefined && body.status ? body.data : body;
  }

  function cached(path) {
    if (!cache.has(path)) {
      const p = api(path);
      p.catch(() => cache.delete(path));
      cache.set(path, p);
    }
    return cache.get(path);
  }

  const ZERO_TIME = "0001-01-01T00:00:00Z";

  function parseTime(iso) {
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
  function when(iso) {
    const t = parseTime(iso);
    if (t === null) return h("span", { class: "muted" }, "never");
    return h("time", { datetime: iso, title: new Date(t).toISOString() }, ago(t));
  }

  function seconds(x) {
    if (typeof x !== "number") return "";
    if (x === 0) return "0";
    if (x < 0.001) return `${(x * 1e6).toFixed(0)}µs`;
    if (x < 1) return `${(x * 1000).toFixed(x < 0.01 ? 2 : 1)}ms`;
    return `${x.toFixed(x < 10 ? 2 : 1)}s`;
  }

  /** Rule-file style duration: 90 -> "1m30s". */
  function span(sec) {
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

  function badge(text, kind) {
    return h("span", { class: `badge b-${kind || text}` }, text);
  }

  function labelChips(labels, skip) {
    const keys = Object.keys(labels || {}).filter((k) => k !== skip).sort();
    if (!keys.length) return h("span", { class: "muted" }, "—");
    return h("span", { class: "labels" },
      keys.map((k) => h("span", { class: "label" }, h("b", {}, k), "=", labels[k])));
  }

  function copyButton(text) {
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

  function ruleLink(groupId, ruleId, text) {
    return h("a", { href: `#/rule/${groupId}/${ruleId}` }, text);
  }

  // ---------- routing ----------

  function route() {
    const raw = location.hash.replace(/^#\/?/, "");
    const [path, query] = raw.split("?", 2);
    const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
    return { page: parts[0] || "groups", parts, args: new URLSearchParams(query || "") };
  }

  /** Rewrites the current route's query without a navigation (filters typing). */
  function setArgs(args) {
    const r = route();
    const qs = args.toString();
    const hash = `#/${r.parts.map(encodeURIComponent).join("/") || r.page}${qs ? "?" + qs : ""}`;
    history.replaceState(null, "", hash);
  }

  const pages = { groups: groupsPage, alerts: alertsPage, rule: rulePage, notifiers: notifiersPage, config: configPage };

  let renderSeq = 0;
  async function render() {
    const seq = ++renderSeq;
    const r = route();
    const page = pages[r.page] || notFoundPage;
    for (const a of document.querySelectorAll(".top nav a")) {
      if (a.dataset.page === r.page) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    try {
      const node = await page(r);
      if (seq !== renderSeq) return; // a newer navigation won
      main.replaceChildren(node);
    } catch (e) {
      if (seq !== renderSeq) return;
      main.replaceChildren(h("div", { class: "banner err", role: "alert" }, e.message || String(e)));
    }
    document.getElementById("loaded-at").textContent = `updated ${new Date().toLocaleTimeString()}`;
    updateAlertCount();
  }

  async function updateAlertCount() {
    try {
      const d = await cached("/api/v1/alerts");
      const firing = d.alerts.filter((a) => a.state === "firing").length;
      const el = document.getElementById("alert-count");
      el.hidden = d.alerts.length === 0;
      el.textContent = firing || d.alerts.length;
      el.title = `${firing} firing, ${d.alerts.length - firing} pending`;
    } catch (_) { /* the page itself shows errors */ }
  }

  function notFoundPage(r) {
    return h("div", {}, h("h1", {}, "Not found"),
      h("p", {}, `No page "${r.page}". `, h("a", { href: "#/groups" }, "Go to groups")));
  }

  // ---------- filters shared by Groups and Alerts ----------

  /** Parses "k=v k2=~re k3!=x k4" into predicates over a label object. */
  function labelMatchers(text) {
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
  function groupMatcher(text) {
    const t = (text || "").trim();
    if (!t) return null;
    const exact = /^"(.*)"$/.exec(t);
    if (exact) return (name) => name === exact[1];
    const low = t.toLowerCase();
    return (name) => name.toLowerCase().includes(low);
  }

  function words(text) {
    return (text || "").toLowerCase().split(/\s+/).filter(Boolean);
  }

  function filterForm(fields, args, onChange) {
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

  function pager(total, perPage, args, onPage) {
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

  // ---------- Groups ----------

  /** Flattens /api/v1/rules once per fetch into something cheap to filter. */
  let rulesIndex = { src: null, groups: [] };
  function indexRules(data) {
    if (rulesIndex.src === data) return rulesIndex.groups;
    const groups = data.groups.map((g) => {
      const gname = g.name.toLowerCase();
      const rules = g.rules.map((r) => ({
        r,
        text: `${r.name}\n${r.query}\n${gname}`.toLowerCase(),
        state: r.type === "recording" ? "recording" : r.state,
      }));
      let firing = 0, pending = 0, errors = 0;
      for (const x of rules) {
        if (x.r.health === "err") errors++;
        for (const a of x.r.alerts || []) {
          if (a.state === "firing") firing++; else if (a.state === "pending") pending++;
        }
      }
      return { g, gname, rules, firing, pending, errors };
    });
    rulesIndex = { src: data, groups };
    return groups;
  }

  function ruleMatcher(args) {
    const ws = words(args.get("search"));
    const lm = labelMatchers(args.get("labels"));
    const state = args.get("state") || "";
    const type = args.get("type") || "";
    const active = ws.length || lm.length || state || type;
    const fn = (x) => {
      if (type && x.r.type !== type) return false;
      if (state) {
        if (state === "unhealthy") { if (x.r.health !== "err") return false; }
        else if (state === "ok") { if (x.r.health !== "ok") return false; }
        else if (x.state !== state) return false;
      }
      for (const w of ws) if (!x.text.includes(w)) return false;
      if (lm.length) {
        const sets = [x.r.labels || {}, ...(x.r.alerts || []).map((a) => a.labels)];
        if (!sets.some((ls) => lm.every((m) => m(ls)))) return false;
      }
      return true;
    };
    return { fn, active };
  }

  async function groupsPage(r) {
    const t0 = performance.now();
    const data = await cached("/api/v1/rules");
    const t1 = performance.now();
    const groups = indexRules(data);
    const args = r.args;
    const results = h("div", { id: "group-results" });
    const names = h("datalist", { id: "group-names" }, groups.slice(0, 5000).map((x) => h("option", { value: x.g.name })));
    const fields = [
      { name: "search", label: "Search name, query or group", placeholder: "e.g. HighLoad" },
      { name: "labels", label: "Labels", placeholder: "severity=page job=~api.*" },
      { name: "group", label: "Group", placeholder: "group name", list: "group-names" },
      { name: "state", label: "State", options: [["", "any"], ["firing", "firing"], ["pending", "pending"], ["inactive", "inactive"], ["unhealthy", "unhealthy"], ["ok", "healthy"]] },
      { name: "type", label: "Type", options: [["", "any"], ["alerting", "alerting"], ["recording", "recording"]] },
    ];
    const draw = () => drawGroups(groups, args, results);
    const page = h("div", {},
      h("h1", {}, "Groups"),
      filterForm(fields, args, draw), names,
      results);
    draw();
    document.body.dataset.fetchMs = (t1 - t0).toFixed(1);
    document.body.dataset.renderMs = (performance.now() - t1).toFixed(1);
    return page;
  }

  function drawGroups(groups, args, results) {
    const { fn, active } = ruleMatcher(args);
    const gq = groupMatcher(args.get("group"));
    const shown = [];
    let nRules = 0, nFiring = 0, nPending = 0, nErr = 0;
    for (const x of groups) {
      if (gq && !gq(x.g.name)) continue;
      const rules = active ? x.rules.filter(fn) : x.rules;
      if (active && !rules.length) continue;
      shown.push({ x, rules });
      nRules += rules.length;
      for (const y of rules) {
        if (y.r.health === "err") nErr++;
        if (y.state === "firing") nFiring++; else if (y.state === "pending") nPending++;
      }
    }
    const pg = pager(shown.length, GROUPS_PER_PAGE, args, () => drawGroups(groups, args, results));
    const slice = shown.slice(pg.start, pg.start + GROUPS_PER_PAGE);
    const expand = active || gq ? slice.length <= GROUPS_PER_PAGE : false;
    const summary = h("p", { class: "summary", id: "groups-summary" },
      h("strong", {}, shown.length), ` group${shown.length === 1 ? "" : "s"}, `,
      h("strong", {}, nRules), ` rule${nRules === 1 ? "" : "s"}`,
      nFiring ? [", ", h("strong", {}, nFiring), " firing"] : "",
      nPending ? [", ", h("strong", {}, nPending), " pending"] : "",
      nErr ? [", ", h("strong", {}, nErr), " unhealthy"] : "",
      active || gq ? ` (filtered from ${groups.length} groups)` : "",
      pg.pagesN > 1 ? ` · page ${pg.cur} of ${pg.pagesN}` : "",
      " · ",
      h("button", { type: "button", onclick: () => toggleAll(results, true) }, "Expand all"), " ",
      h("button", { type: "button", onclick: () => toggleAll(results, false) }, "Collapse all"));
    const list = h("div", { class: "group-list" }, slice.map(({ x, rules }) => groupBlock(x, rules, expand)));
    if (!slice.length) list.append(h("p", { class: "muted" }, groups.length ? "No rule matches these filters." : "No rule groups are loaded."));
    results.replaceChildren(summary, list, pg.nav);
  }

  function toggleAll(results, open) {
    for (const d of results.querySelectorAll("details.group")) d.open = open;
  }

  function groupBlock(x, rules, expand) {
    const g = x.g;
    const d = h("details", { class: "group", "data-group": g.name, id: `group-${g.id}` });
    const counts = [];
    if (x.firing) counts.push(badge(`${x.firing} firing`, "firing"));
    if (x.pending) counts.push(badge(`${x.pending} pending`, "pending"));
    if (x.errors) counts.push(badge(`${x.errors} unhealthy`, "err"));
    d.append(h("summary", {},
      h("span", { class: "name" }, g.name),
      h("span", { class: "file" }, g.file),
      h("span", { class: "right" }, counts,
        h("span", { class: "muted" }, `${rules.length === x.rules.length ? "" : rules.length + " of "}${x.rules.length} rule${x.rules.length === 1 ? "" : "s"} · every ${span(g.interval)} · `),
        h("span", { class: "muted" }, "evaluated "), when(g.lastEvaluation),
        parseTime(g.lastEvaluation) === null ? "" : h("span", { class: "muted" }, ` in ${seconds(g.evaluationTime)}`))));
    let filled = false;
    const fill = () => {
      if (filled) return;
      filled = true;
      d.append(h("div", { class: "body" }, rulesTable(g, rules.map((y) => y.r))));
    };
    d.addEventListener("toggle", () => {
      if (d.open) { openGroups.add(g.id); fill(); } else openGroups.delete(g.id);
    });
    if (expand || openGroups.has(g.id)) { fill(); d.open = true; }
    return d;
  }

  function rulesTable(g, rules) {
    return h("table", {},
      h("thead", {}, h("tr", {}, ["Rule", "State", "Health", "Query", "Last evaluation", "Duration", "Samples", "Error"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rules.map((r) => h("tr", { "data-rule": r.name },
        h("td", {}, ruleLink(g.id, r.id, r.name)),
        h("td", {}, r.type === "recording" ? badge("recording") : badge(r.state)),
        h("td", {}, badge(r.health, r.health === "err" ? "err" : r.health)),
        h("td", { class: "query" }, h("code", {}, r.query.length > 240 ? r.query.slice(0, 240) + "…" : r.query)),
        h("td", {}, when(r.lastEvaluation)),
        h("td", { class: "num" }, seconds(r.evaluationTime)),
        h("td", { class: "num" }, r.lastSamples ?? ""),
        h("td", {}, r.lastError ? h("span", { class: "error" }, r.lastError) : "")))));
  }

  // ---------- Alerts ----------

  async function alertsPage(r) {
    // Rules with an active alert carry their group's name and the alerts themselves.
    const data = await cached("/api/v1/rules?type=alert&state=firing,pending");
    const all = [];
    for (const g of data.groups) {
      for (const rule of g.rules) {
        for (const a of rule.alerts || []) {
          const text = [rule.name, g.name, ...Object.values(a.labels), ...Object.values(a.annotations)].join("\n").toLowerCase();
          all.push({ a, rule, g, text, t: parseTime(a.activeAt) || 0 });
        }
      }
    }
    all.sort((p, q) => (p.a.state === q.a.state ? q.t - p.t : p.a.state === "firing" ? -1 : 1));
    const args = r.args;
    const results = h("div", { id: "alert-results" });
    const fields = [
      { name: "search", label: "Search name, labels, annotations", placeholder: "e.g. disk" },
      { name: "labels", label: "Labels", placeholder: "severity=page" },
      { name: "group", label: "Group", placeholder: "group name" },
      { name: "state", label: "State", options: [["", "firing and pending"], ["firing", "firing"], ["pending", "pending"]] },
    ];
    const draw = () => drawAlerts(all, args, results);
    const page = h("div", {}, h("h1", {}, "Alerts"), filterForm(fields, args, draw), results);
    draw();
    return page;
  }

  function drawAlerts(all, args, results) {
    const ws = words(args.get("search"));
    const lm = labelMatchers(args.get("labels"));
    const state = args.get("state") || "";
    const gq = groupMatcher(args.get("group"));
    const shown = all.filter((x) =>
      (!state || x.a.state === state) &&
      (!gq || gq(x.g.name)) &&
      ws.every((w) => x.text.includes(w)) &&
      lm.every((m) => m(x.a.labels)));
    const firing = shown.filter((x) => x.a.state === "firing").length;
    const pg = pager(shown.length, ALERTS_PER_PAGE, args, () => drawAlerts(all, args, results));
    const rows = shown.slice(pg.start, pg.start + ALERTS_PER_PAGE).map(({ a, rule, g }) => h("tr", { "data-alert": a.labels.alertname || rule.name },
      h("td", {}, ruleLink(g.id, rule.id, a.labels.alertname || rule.name), h("div", {},
        h("a", { class: "muted", href: `#/groups?group=${encodeURIComponent(`"${g.name}"`)}` }, g.name))),
      h("td", {}, badge(a.state)),
      h("td", {}, labelChips(a.labels, "alertname")),
      h("td", {}, annotations(a.annotations)),
      h("td", { class: "num mono" }, a.value),
      h("td", {}, when(a.activeAt))));
    results.replaceChildren(
      h("p", { class: "summary" }, h("strong", {}, firing), " firing, ", h("strong", {}, shown.length - firing), " pending",
        shown.length !== all.length ? ` (filtered from ${all.length})` : ""),
      shown.length
        ? h("table", {}, h("thead", {}, h("tr", {}, ["Alert", "State", "Labels", "Annotations", "Value", "Active since"].map((c) => h("th", { scope: "col" }, c)))), h("tbody", {}, rows))
        : h("p", { class: "muted" }, all.length ? "No alert matches these filters." : "No alert is pending or firing."),
      pg.nav);
  }

  function annotations(ann) {
    const keys = Object.keys(ann || {});
    if (!keys.length) return h("span", { class: "muted" }, "—");
    const order = ["summary", "description"];
    keys.sort((a, b) => (order.indexOf(a) + 1 || 9) - (order.indexOf(b) + 1 || 9) || a.localeCompare(b));
    return h("dl", { class: "kv ann" }, keys.map((k) => [h("dt", {}, k), h("dd", {}, ann[k])]));
  }

  // ---------- Rule ----------

  async function rulePage(r) {
    const [, gid, rid] = r.parts;
    if (!gid || !rid) return notFoundPage(r);
    const rule = await api(`/api/v1/rule?group_id=${encodeURIComponent(gid)}&rule_id=${encodeURIComponent(rid)}`);
    const alerting = rule.type === "alerting";
    const updates = (rule.updates || []).slice().sort((a, b) => (parseTime(b.time) || 0) - (parseTime(a.time) || 0));
    const kv = [
      ["Group", h("a", { href: `#/groups?group=${encodeURIComponent(`"${rule.group_name}"`)}` }, rule.group_name)],
      ["File", h("span", { class: "mono" }, rule.file)],
      ["Query", h("div", {}, h("pre", { id: "rule-query" }, rule.query), copyButton(rule.query))],
    ];
    if (alerting) {
      kv.push(["For", span(rule.duration)]);
      if (rule.keepFiringFor) kv.push(["Keep firing for", span(rule.keepFiringFor)]);
    }
    kv.push(["Labels", labelChips(rule.labels)]);
    if (alerting) kv.push(["Annotations", annotations(rule.annotations)]);
    kv.push(
      ["Last evaluation", when(rule.lastEvaluation)],
      ["Evaluation time", seconds(rule.evaluationTime)],
      ["Samples", String(rule.lastSamples ?? "")]);
    if (rule.lastError) kv.push(["Last error", h("pre", { class: "error" }, rule.lastError)]);
    const curl = updates.find((u) => u.curl)?.curl;
    const parts = [
      h("h1", {}, rule.name, " ",
        alerting ? badge(rule.state) : badge("recording"), " ",
        badge(rule.health, rule.health === "err" ? "err" : rule.health)),
      h("div", { class: "panel" }, h("dl", { class: "kv" }, kv.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]))),
    ];
    if (alerting) {
      const alerts = rule.alerts || [];
      parts.push(h("h2", {}, `Alerts (${alerts.length})`));
      parts.push(alerts.length
        ? h("table", {}, h("thead", {}, h("tr", {}, ["State", "Labels", "Annotations", "Value", "Active since"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, alerts.map((a) => h("tr", {}, h("td", {}, badge(a.state)), h("td", {}, labelChips(a.labels, "alertname")),
            h("td", {}, annotations(a.annotations)), h("td", { class: "num mono" }, a.value), h("td", {}, when(a.activeAt))))))
        : h("p", { class: "muted" }, "No pending or firing alert."));
    }
    parts.push(h("h2", {}, "Reproduce the last evaluation"));
    parts.push(curl
      ? h("div", {}, h("p", { class: "muted" }, "The datasource request of the most recent evaluation; put your -datasource.url in place of <datasource>."),
        h("pre", { id: "rule-curl" }, curl), copyButton(curl))
      : h("p", { class: "muted" }, "Not evaluated yet, or this rule keeps no history (update_entries_limit: 0)."));
    parts.push(h("h2", {}, `Last evaluations (${updates.length})`));
    parts.push(updates.length
      ? h("table", { id: "rule-updates" },
        h("thead", {}, h("tr", {}, ["Ran", "Query time", "Duration", "Samples", "Error"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, updates.map((u) => h("tr", {},
          h("td", {}, h("time", { datetime: u.time, title: u.time }, new Date(parseTime(u.time)).toLocaleString())),
          h("td", { class: "mono" }, u.at),
          h("td", { class: "num" }, seconds(u.duration)),
          h("td", { class: "num" }, u.samples),
          h("td", {}, u.error ? h("span", { class: "error" }, u.error) : h("span", { class: "muted" }, "—"))))))
      : h("p", { class: "muted" }, "No evaluation recorded yet."));
    return h("div", {}, parts);
  }

  // ---------- Notifiers ----------

  async function notifiersPage() {
    const data = await api("/api/v1/notifiers");
    const targets = data.notifiers.flatMap((n) => n.targets.map((t) => ({ ...t, kind: n.kind })));
    return h("div", {}, h("h1", {}, "Notifiers"),
      targets.length
        ? h("table", { id: "notifiers" },
          h("thead", {}, h("tr", {}, ["Address", "Kind", "Sent", "Errors", "Dropped", "Queued", "Last error"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, targets.map((t) => h("tr", { "data-address": t.address },
            h("td", { class: "mono" }, t.address), h("td", {}, t.kind),
            h("td", { class: "num" }, t.sent), h("td", { class: "num" }, t.errors),
            h("td", { class: "num" }, t.dropped), h("td", { class: "num" }, t.queued),
            h("td", {}, t.lastError ? h("span", { class: "error" }, t.lastError) : h("span", { class: "muted" }, "—"))))))
        : h("p", { class: "muted" }, "No -notifier.url is set: alerts are evaluated but not sent anywhere."),
      h("p", { class: "muted" }, "Sent: alerts Alertmanager accepted. Errors: alerts in requests that failed. Dropped: alerts pushed out of a full queue."));
  }

  // ---------- Config ----------

  /** The answer of the last "Reload rules now", shown once on the next Config render. */
  let reloadReply = null;

  async function configPage() {
    const [s, rt] = await Promise.all([api("/api/v1/status"), api("/api/v1/status/runtimeinfo")]);
    const reload = h("button", {
      type: "button",
      onclick: async () => {
        reload.disabled = true;
        reload.textContent = "Reloading…";
        try {
          const resp = await fetch(`${ROOT}/-/reload`, { method: "POST" });
          const text = (await resp.text()).trim();
          reloadReply = resp.ok ? { ok: true, text: "Rules reloaded." } : {
            ok: false,
            text: resp.status === 401 || resp.status === 403
              ? `${text}\nReload with the key instead: curl -X POST '${location.origin}${ROOT}/-/reload?authKey=…'`
              : text,
          };
        } catch (e) {
          reloadReply = { ok: false, text: `cannot reach tocsin: ${e.message}` };
        }
        refresh();
      },
    }, "Reload rules now");
    const reply = reloadReply;
    reloadReply = null;
    return h("div", {}, h("h1", {}, "Configuration"),
      s.reloadSuccess
        ? h("div", { class: "banner ok", id: "reload-status" }, "The last reload of the rule files succeeded.")
        : h("div", { class: "banner err", id: "reload-status", role: "alert" }, "The last reload of the rule files failed; the previous rules keep running."),
      h("div", { class: "panel" }, h("dl", { class: "kv" },
        h("dt", {}, "Last reload attempt"), h("dd", {}, s.lastReloadAttempt ? when(s.lastReloadAttempt) : "none"),
        h("dt", {}, "Last successful load"), h("dd", {}, s.lastReloadSuccess ? when(s.lastReloadSuccess) : "none"),
        h("dt", {}, "Ready"), h("dd", {}, s.ready ? "yes" : "no (rules not loaded yet)"),
        h("dt", {}, "Started"), h("dd", {}, when(rt.startTime)),
        h("dt", {}, "Working directory"), h("dd", { class: "mono" }, rt.CWD))),
      s.lastError ? [h("h2", {}, "Last reload error"), h("pre", { class: "error", id: "reload-error" }, s.lastError)] : "",
      h("p", {}, reload, " ", h("span", { class: "muted" }, "Rule files are also reloaded when they change, on SIGHUP and on POST /-/reload.")),
      reply && !reply.ok && reply.text !== `failed to reload rules: ${s.lastError}`
        ? h("pre", { class: "error", id: "reload-reply" }, reply.text) : "",
      reply && reply.ok ? h("p", { class: "banner ok", id: "reload-reply" }, reply.text) : "");
  }

  // ---------- wiring ----------

  function refresh() {
    cache = new Map();
    render();
  }

  function setAuto(on) {
    clearInterval(autoTimer);
    autoTimer = on ? setInterval(() => {
      // Do not rebuild the page under someone typing in a filter.
      if (document.activeElement && document.activeElement.matches("input, select")) return;
      refresh();
    }, 30000) : null;
    try { localStorage.setItem("tocsin.autoRefresh", on ? "1" : ""); } catch (_) { /* private mode */ }
  }

  window.addEventListener("hashchange", render);
  document.getElementById("refresh").addEventListener("click", refresh);
  const auto = document.getElementById("auto-refresh");
  try { auto.checked = localStorage.getItem("tocsin.autoRefresh") === "1"; } catch (_) { /* private mode */ }
  auto.addEventListener("change", () => setAuto(auto.checked));
  setAuto(auto.checked);
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.target.matches("input, select, textarea")) return;
    if (e.key === "/") {
      const s = main.querySelector("input[type=search]");
      if (s) { e.preventDefault(); s.focus(); }
    } else if (e.key === "r") {
      refresh();
    }
  });
  if (!location.hash) history.replaceState(null, "", "#/groups");
  render();
})();
