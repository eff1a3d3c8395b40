// The Groups page. With 10,000 rules it indexes /api/v1/rules once per fetch, filters
// before rendering, shows 50 groups per page, and renders a group's rules only when it is
// open. Groups with firing or unhealthy rules open by themselves, the rest stay folded;
// a group the user opened or closed stays that way in this browser (localStorage). When a
// filter is active, every group shown opens (the filter keeps the rendered set small).

import {
  announce, badge, BASE, cached, clusterInfo, copyButton, filterForm, groupMatcher, h, labelMatchers, pager, parseTime,
  partialBanner, pausedNote, ruleLink, seconds, span, when, words,
} from "./lib.js";

const GROUPS_PER_PAGE = 50;

/**
 * The user's own open/close choices by group id, remembered in this browser. A choice
 * wins over the default (open when something fires or fails). Only the latest
 * MAX_CHOICES are kept, so the stored list stays small with thousands of groups.
 */
const CHOICES_KEY = "tocsin.groups.open";
const MAX_CHOICES = 500;
const choices = loadChoices();

function loadChoices() {
  try {
    const v = JSON.parse(localStorage.getItem(CHOICES_KEY) || "[]");
    if (Array.isArray(v)) return new Map(v.filter((e) => Array.isArray(e) && typeof e[1] === "boolean"));
  } catch (_) { /* private mode or a damaged entry: start afresh */ }
  return new Map();
}

function choose(id, open) {
  choices.delete(id); // re-inserted last: the newest choice is kept longest
  choices.set(id, open);
  while (choices.size > MAX_CHOICES) choices.delete(choices.keys().next().value);
  try { localStorage.setItem(CHOICES_KEY, JSON.stringify([...choices])); } catch (_) { /* private mode */ }
}

/** Whether a group starts open: a filter opens it, else the user's choice, else trouble. */
function startsOpen(x, expand) {
  if (expand) return true;
  const chosen = choices.get(x.g.id);
  return chosen ?? (x.firing > 0 || x.errors > 0);
}

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

export async function groupsPage(r) {
  const t0 = performance.now();
  const [data, cluster, pauses] = await Promise.all([
    cached("/api/v1/rules"), clusterInfo(),
    // Older servers, and readers the listing turns away, have no pauses to show here.
    cached("/api/v1/rules/pauses").catch(() => null),
  ]);
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
  const draw = () => drawGroups(groups, args, results, cluster);
  const page = h("div", {},
    h("h1", {}, "Groups"), partialBanner(data), unloadedPauses(pauses, cluster),
    filterForm(fields, args, draw), names,
    results);
  draw();
  document.body.dataset.fetchMs = (t1 - t0).toFixed(1);
  document.body.dataset.renderMs = (performance.now() - t1).toFixed(1);
  return page;
}

/**
 * The pauses that cover no loaded rule (`covered_rules: 0` in /api/v1/rules/pauses):
 * their group or rule is not in the rule files (any more), so no group below carries
 * them, yet each applies again when its group or rule comes back. Each with who, why and
 * until when, and the resume request that ends it.
 */
function unloadedPauses(listing, cluster) {
  const list = (listing?.pauses || []).filter((p) => p.covered_rules === 0);
  if (!list.length) return "";
  const where = cluster
    ? "their group or rule is not evaluated by this member (pauses apply on the member they were made on)"
    : "their group or rule is not in the rule files";
  return h("section", { class: "panel", id: "unloaded-pauses", "aria-labelledby": "unloaded-pauses-title" },
    h("h2", { id: "unloaded-pauses-title" }, `Pauses of rules not loaded (${list.length})`),
    h("p", { class: "muted" }, `No group below shows these: ${where}. Each applies again when it comes back; resume it to end it.`),
    h("ul", { class: "plain" }, list.map((p) => {
      const names = [["file", p.file], ["group", p.group], ...(p.rule ? [["rule", p.rule]] : [])];
      const curl = `curl -X POST '${location.origin}${BASE}/api/v1/rules/resume' ${names.map(([k, v]) => `--data-urlencode ${shellQuote(`${k}=${v}`)}`).join(" ")}`;
      return h("li", { "data-pause-group": p.group, "data-pause-rule": p.rule ?? "" },
        h("strong", {}, p.rule ? `${p.group} / ${p.rule}` : p.group), " ",
        h("span", { class: "muted mono" }, p.file), " ", pausedNote(p),
        h("pre", { class: "resume" }, curl), copyButton(curl));
    })));
}

/** `s` as one POSIX shell word. */
function shellQuote(s) {
  return `'${s.replaceAll("'", "'\\''")}'`;
}

function drawGroups(groups, args, results, cluster) {
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
  const pg = pager(shown.length, GROUPS_PER_PAGE, args, () => drawGroups(groups, args, results, cluster));
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
  const list = h("div", { class: "group-list" }, slice.map(({ x, rules }) => groupBlock(x, rules, expand, cluster)));
  if (!slice.length) list.append(h("p", { class: "muted" }, groups.length ? "No rule matches these filters." : "No rule groups are loaded."));
  results.replaceChildren(summary, list, pg.nav);
  announce(`${shown.length} groups, ${nRules} rules`);
}

function toggleAll(results, open) {
  // The user's choice for each group shown: the toggle events record it.
  for (const d of results.querySelectorAll("details.group")) d.open = open;
}

/** Where a cluster's group runs: here, on other members, or nowhere that answered. */
function ownerNote(g, cluster) {
  if (!cluster || !Array.isArray(g.owners)) return "";
  const others = g.owners.filter((o) => o !== cluster.self).map(cluster.label);
  const here = others.length < g.owners.length;
  const text = g.ownerUnreachable ? `not evaluated: ${others.join(", ")} did not answer`
    : here ? (others.length ? `here and on ${others.join(", ")}` : "evaluated here")
      : `on ${others.join(", ")}`;
  return h("span", { class: `owner${here ? " here" : ""}${g.ownerUnreachable ? " error" : ""}`, "data-owners": g.owners.join(",") }, text);
}

function groupBlock(x, rules, expand, cluster) {
  const g = x.g;
  const d = h("details", { class: "group", "data-group": g.name, id: `group-${g.id}` });
  const counts = [];
  if (x.firing) counts.push(badge(`${x.firing} firing`, "firing"));
  if (x.pending) counts.push(badge(`${x.pending} pending`, "pending"));
  if (x.errors) counts.push(badge(`${x.errors} unhealthy`, "err"));
  d.append(h("summary", {},
    h("span", { class: "name" }, g.name),
    h("span", { class: "file" }, g.file),
    ownerNote(g, cluster),
    pausedNote(g.paused),
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
  // `drawn` is the state this page gave the group; a toggle that leaves it there is the
  // page's own (toggle events arrive later), any other is the user's choice.
  let drawn = startsOpen(x, expand);
  d.addEventListener("toggle", () => {
    if (d.open) fill();
    if (d.open !== drawn) { drawn = d.open; choose(g.id, d.open); }
  });
  if (drawn) { fill(); d.open = true; }
  return d;
}

function rulesTable(g, rules) {
  return h("table", {},
    h("thead", {}, h("tr", {}, ["Rule", "State", "Health", "Query", "Last evaluation", "Duration", "Samples", "Error"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rules.map((r) => h("tr", { "data-rule": r.name },
      h("td", {}, ruleLink(g.id, r.id, r.name)),
      h("td", {}, r.type === "recording" ? badge("recording") : badge(r.state), r.paused ? [" ", pausedNote(r.paused)] : ""),
      h("td", {}, badge(r.health, r.health === "err" ? "err" : r.health)),
      h("td", { class: "query" }, h("code", {}, r.query.length > 240 ? r.query.slice(0, 240) + "…" : r.query)),
      h("td", {}, when(r.lastEvaluation)),
      h("td", { class: "num" }, seconds(r.evaluationTime)),
      h("td", { class: "num" }, r.lastSamples ?? ""),
      h("td", {}, r.lastError ? h("span", { class: "error" }, r.lastError) : "")))));
}
