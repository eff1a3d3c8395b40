// tocsin's rule-file extensions in the status UI: a person looking at a rule sees the
// extensions it uses and what each does, and a flapping alert is marked as flapping on
// the Alerts page and on its rule's page. Real tocsin against a real Prometheus.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";

import {
  browserSuite, requirements, screenshots, startPrometheus, startTocsin, waitFor,
} from "../lib/harness.mjs";

// Flappy is true 6 s of every 8: it fires and resolves every few seconds, more than
// once within 30 s, so it flaps. Guarded uses every other extension.
const RULES = `groups:
  - name: extensions
    interval: 1s
    on_error: {after: 1m, state: keep}
    rules:
      - alert: Flappy
        expr: up{job="prometheus"} == 1 and on() (vector(time()) % 8 < 6)
        flapping: {changes: 1, within: 30s}
      - alert: Guarded
        expr: up{job="prometheus"} > 2
        recover_expr: up{job="prometheus"} < 1
        for_count: {n: 2, of: 3}
        no_data: {after: 5m, state: alerting}
      - alert: Plain
        expr: up{job="prometheus"} > 2
`;

const req = requirements();

describe("extensions in the status UI", { skip: req.skip }, () => {
  let tocsin;
  const ui = browserSuite("ext", req, async (s) => {
    const prom = s.keep(await startPrometheus(req.need.prometheus, s.dir));
    fs.writeFileSync(path.join(s.dir, "rules.yml"), RULES);
    tocsin = s.keep(await startTocsin(req.need.tocsin, [
      `-rule=${path.join(s.dir, "rules.yml")}`,
      `-datasource.url=${prom.url}`,
      "-evaluationInterval=1s",
    ], s.dir, "tocsin-ext"));
  });

  it("lists a rule's extensions on its ui.page, and none for a plain rule", async () => {
    await ui.page.goto(`${tocsin.url}/#/groups?search=Guarded`);
    await ui.page.getByRole("link", { name: "Guarded" }).click();
    const list = ui.page.locator("#rule-extensions");
    await list.waitFor();
    const items = await list.locator("li").evaluateAll((ls) => ls.map((l) => [l.dataset.ext, l.innerText]));
    assert.deepEqual(items.map(([k]) => k), ["recover_expr", "for_count", "no_data", "on_error"],
      "the rule's own and the group's default");
    const text = Object.fromEntries(items);
    assert.match(text.recover_expr, /resolves only when up\{job="prometheus"\} < 1 returns its series/);
    assert.match(text.for_count, /2 of the last 3 evaluations/);
    assert.match(text.no_data, /after 5m of no data: alerting/);
    assert.match(text.on_error, /after 1m of failing queries: keep/);
    await screenshots(ui.page, "rule-extensions");

    await ui.page.goto(`${tocsin.url}/#/groups?search=Plain`);
    await ui.page.getByRole("link", { name: "Plain" }).click();
    await ui.page.locator("#rule-query").waitFor();
    // The group's `on_error` applies to Plain too: it is shown, alone.
    const plain = await ui.page.locator("#rule-extensions li").evaluateAll((ls) => ls.map((l) => l.dataset.ext));
    assert.deepEqual(plain, ["on_error"]);
  });

  it("marks a flapping alert on the Alerts page and on its rule's page", async () => {
    // Flapping once it fired, resolved and fired again; it stays flapping while it
    // keeps changing within 30 s, and is firing 6 s of every 8.
    await waitFor(`${tocsin.url}/api/v1/alerts`, tocsin.proc, {
      timeout: 60000,
      check: (b) => JSON.parse(b).data.alerts.some((a) => a.labels.alertname === "Flappy" && a.flapping),
    });
    const row = ui.page.locator('tr[data-alert="Flappy"]');
    await showing(`${tocsin.url}/#/alerts`, row);
    const badges = await row.locator(".badge").allInnerTexts();
    assert.deepEqual(badges, ["firing", "flapping"]);
    await screenshots(ui.page, "alerts-flapping");
    await row.getByRole("link", { name: "Flappy" }).click();
    await ui.page.locator("#rule-extensions").waitFor();
    assert.match(await ui.page.locator('#rule-extensions li[data-ext="flapping"]').innerText(),
      /more than 1 changes within 30s; its notifications carry flapping="true"/);
    const alert = ui.page.locator("table tbody tr").filter({ hasText: "flapping" }).first();
    await showing(ui.page.url(), alert);
    assert.deepEqual(await alert.locator(".badge").allInnerTexts(), ["firing", "flapping"]);
  });

  /** Opens `url` until `locator` shows: Flappy is not firing 2 s of every 8. */
  async function showing(url, locator) {
    for (let i = 0; ; i++) {
      await ui.page.goto(url);
      await ui.page.reload();
      try {
        return await locator.waitFor({ timeout: 3000 });
      } catch (e) {
        if (i >= 5) throw e;
      }
    }
  }
});
