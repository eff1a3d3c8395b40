// The Rule, Notifiers and Config pages: one object each, straight from the API.

import {
  annotations, api, badge, copyButton, h, labelChips, parseTime, pausedNote, requestRefresh, ROOT, seconds, span, value, when,
} from "./lib.js";

export async function rulePage(r) {
  const [, gid, rid] = r.parts;
  if (!gid || !rid) throw new Error("a rule's address is #/rule/<group_id>/<rule_id>");
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
  if (rule.extensions) kv.push(["Extensions", extensionList(rule.extensions)]);
  kv.push(["Labels", labelChips(rule.labels)]);
  if (alerting) kv.push(["Annotations", annotations(rule.annotations)]);
  kv.push(
    ["Last evaluation", when(rule.lastEvaluation)],
    ["Evaluation time", seconds(rule.evaluationTime)],
    ["Samples", String(rule.lastSamples ?? "")]);
  if (rule.lastError) kv.push(["Last error", h("pre", { class: "error" }, rule.lastError)]);
  if (rule.paused) kv.push(["Paused", h("div", { id: "rule-paused" }, pausedNote(rule.paused))]);
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
        h("tbody", {}, alerts.map((a) => h("tr", {}, h("td", {}, badge(a.state), a.flapping ? [" ", badge("flapping")] : null), h("td", {}, labelChips(a.labels, "alertname")),
          h("td", {}, annotations(a.annotations)), h("td", { class: "num mono" }, value(a.value)), h("td", {}, when(a.activeAt))))))
      : h("p", { class: "muted" }, "No pending or firing alert."));
  }
  parts.push(h("h2", {}, "Reproduce the last evaluation"));
  parts.push(curl
    ? h("div", {}, h("p", { class: "muted" }, "The datasource request of the most recent evaluation; put your -datasource.url in place of <datasource>."),
      h("pre", { id: "rule-curl" }, curl), copyButton(curl))
    : h("p", { class: "muted" }, "Not evaluated yet."));
  parts.push(h("h2", {}, `Last evaluations (${updates.length})`));
  parts.push(updates.length
    ? h("table", { id: "rule-updates" },
      h("thead", {}, h("tr", {}, ["Ran", "Query time", "Duration", "Samples", "Error"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, updates.map((u) => h("tr", {},
        h("td", {}, h("time", { datetime: u.time, title: u.time }, new Date(parseTime(u.time)).toLocaleString())),
        h("td", { class: "mono" }, u.at),
        // vmalert's `updates[].duration` is Go's time.Duration: nanoseconds.
        h("td", { class: "num" }, seconds(typeof u.duration === "number" ? u.duration / 1e9 : null)),
        h("td", { class: "num" }, u.samples),
        h("td", {}, u.error ? h("span", { class: "error" }, u.error) : h("span", { class: "muted" }, "—"))))))
    : h("p", { class: "muted" }, "No evaluation recorded yet."));
  return h("div", {}, parts);
}

/** tocsin's rule-file extensions of a rule (docs/rules.md), each with what it does. */
function extensionList(x) {
  const items = [];
  if (x.recover_expr) items.push(["recover_expr", h("span", {}, "once firing, resolves only when ", h("code", {}, x.recover_expr), " returns its series")]);
  if (x.for_count) items.push(["for_count", `fires when returned in ${x.for_count.n} of the last ${x.for_count.of} evaluations`]);
  if (x.flapping) {
    const f = x.flapping;
    items.push(["flapping", `flapping after more than ${f.changes} changes within ${span(f.within)}; ` +
      (f.hold ? "its notifications are held meanwhile" : 'its notifications carry flapping="true" meanwhile')]);
  }
  for (const [key, what] of [["no_data", "no data"], ["on_error", "failing queries"]]) {
    if (x[key]) items.push([key, `after ${span(x[key].after)} of ${what}: ${x[key].state}`]);
  }
  return h("ul", { id: "rule-extensions", class: "plain" }, items.map(([k, v]) => h("li", { "data-ext": k }, h("b", { class: "mono" }, k), ": ", v)));
}

// ---------- Notifiers ----------

export async function notifiersPage() {
  const data = await api("/api/v1/notifiers");
  const targets = data.notifiers.flatMap((n) => n.targets.map((t) => ({ ...t, kind: n.kind })));
  return h("div", {}, h("h1", {}, "Notifiers"),
    targets.length
      ? h("table", { id: "notifiers" },
        h("thead", {}, h("tr", {}, ["Address", "Kind", "Sent", "Errors", "Dropped", "Queued", "Last error", "Labels"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, targets.map((t) => h("tr", { "data-address": t.address },
          h("td", { class: "mono" }, t.address), h("td", {}, t.kind),
          h("td", { class: "num" }, t.sent), h("td", { class: "num" }, t.errors),
          h("td", { class: "num" }, t.dropped), h("td", { class: "num" }, t.queued),
          h("td", {}, t.lastError ? h("span", { class: "error" }, t.lastError) : h("span", { class: "muted" }, "—")),
          h("td", {}, labelChips(t.labels || {}))))))
      : h("p", { class: "muted" }, "No notifier is set (-notifier.url, -notifier.config or -notifier.blackhole): alerts are evaluated but not sent anywhere."),
    h("p", { class: "muted" }, "Sent: alerts Alertmanager accepted. Errors: alerts in requests that failed. Dropped: alerts pushed out of a full queue."));
}

// ---------- Config ----------

/** The answer of the last "Reload rules now", shown once on the next Config render. */
let reloadReply = null;

export async function configPage() {
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
      requestRefresh();
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
    reply && reply.ok ? h("p", { class: "banner ok", id: "reload-reply" }, reply.text) : "",
    s.cluster ? clusterSection(s.cluster) : "");
}

/** Membership and assignment of a cluster member (`data.cluster` of /api/v1/status). */
function clusterSection(c) {
  return h("section", { id: "cluster" }, h("h2", {}, "Cluster"),
    c.problems.length
      ? h("div", { class: "banner err", role: "alert" }, h("ul", {}, c.problems.map((p) => h("li", {}, p))))
      : "",
    h("div", { class: "panel" }, h("dl", { class: "kv" },
      h("dt", {}, "Membership"), h("dd", {}, c.mode),
      h("dt", {}, "Each group on"), h("dd", {}, `${c.replicationFactor} member${c.replicationFactor === 1 ? "" : "s"}`),
      h("dt", {}, "Groups evaluated here"), h("dd", { id: "cluster-owned" }, `${c.groupsOwned} of ${c.groupsTotal}`),
      h("dt", {}, "Members agree"), h("dd", {}, c.converged ? "yes" : "not yet (a change is being handed over)"))),
    h("table", { id: "cluster-members" },
      h("thead", {}, h("tr", {}, ["Member", "Address", ""].map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {}, c.members.map((m) => h("tr", { "data-member": m.name },
        h("td", {}, m.name), h("td", { class: "mono" }, m.address || "—"), h("td", {}, m.self ? badge("this member", "ok") : ""))))),
    c.peers.length
      ? h("table", { id: "cluster-peers" },
        h("thead", {}, h("tr", {}, ["Peer", "Ready", "Member", "Error"].map((x) => h("th", { scope: "col" }, x)))),
        h("tbody", {}, c.peers.map((p) => h("tr", { "data-address": p.address },
          h("td", { class: "mono" }, p.address), h("td", {}, p.ready ? "yes" : "no"), h("td", {}, p.member ?? "—"),
          h("td", {}, p.error ? h("span", { class: "error" }, p.error) : h("span", { class: "muted" }, "—"))))))
      : "");
}
