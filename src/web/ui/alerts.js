// The Alerts page: pending and firing alerts, firing first and newest first.

import {
  announce, annotations, badge, cached, filterForm, groupMatcher, h, labelChips, labelMatchers, pager, parseTime, partialBanner, ruleLink,
  value, when, words,
} from "./lib.js";

const ALERTS_PER_PAGE = 100;

export async function alertsPage(r) {
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
  const page = h("div", {}, h("h1", {}, "Alerts"), partialBanner(data), filterForm(fields, args, draw), results);
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
  announce(`${firing} firing, ${shown.length - firing} pending`);
  const pg = pager(shown.length, ALERTS_PER_PAGE, args, () => drawAlerts(all, args, results));
  const rows = shown.slice(pg.start, pg.start + ALERTS_PER_PAGE).map(({ a, rule, g }) => h("tr", { "data-alert": a.labels.alertname || rule.name },
    h("td", {}, ruleLink(g.id, rule.id, a.labels.alertname || rule.name), h("div", {},
      h("a", { class: "muted", href: `#/groups?group=${encodeURIComponent(`"${g.name}"`)}` }, g.name))),
    h("td", {}, badge(a.state), a.flapping ? [" ", badge("flapping")] : null),
    h("td", {}, labelChips(a.labels, "alertname")),
    h("td", {}, annotations(a.annotations)),
    h("td", { class: "num mono" }, value(a.value)),
    h("td", {}, when(a.activeAt))));
  results.replaceChildren(
    h("p", { class: "summary" }, h("strong", {}, firing), " firing, ", h("strong", {}, shown.length - firing), " pending",
      shown.length !== all.length ? ` (filtered from ${all.length})` : ""),
    shown.length
      ? h("table", {}, h("thead", {}, h("tr", {}, ["Alert", "State", "Labels", "Annotations", "Value", "Active since"].map((c) => h("th", { scope: "col" }, c)))), h("tbody", {}, rows))
      : h("p", { class: "muted" }, all.length ? "No alert matches these filters." : "No alert is pending or firing."),
    pg.nav);
}
