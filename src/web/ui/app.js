// tocsin status UI: a small client of tocsin's JSON API, no framework, no build step.
//
// Pages are hash routes (#/groups, #/alerts, #/rule/<group_id>/<rule_id>, #/notifiers,
// #/config); filters live in the route's query string so that a filtered view is a link
// that can be shared, and the back button works. Everything is built with DOM calls and
// textContent, never innerHTML, so rule text can never inject markup.
//
// Modules: lib.js (helpers, API, filters), groups.js, alerts.js and status.js (the
// Rule, Notifiers and Config pages); this file routes and wires the header.

import { alertsPage } from "./alerts.js";
import { groupsPage } from "./groups.js";
import { cached, clearCache, h, route } from "./lib.js";
import { configPage, notifiersPage, rulePage } from "./status.js";

const main = document.getElementById("main");
let autoTimer = null;

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

function refresh() {
  clearCache();
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
window.addEventListener("tocsin:refresh", refresh);
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
