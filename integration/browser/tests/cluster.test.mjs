// The status UI of a cluster member, in a real browser: two tocsin members share six
// groups (static sharding, peers from a file) against a real Prometheus. The Groups page
// of either member shows every group and where it runs; the Configuration page shows the
// membership; when a member stops, the page says the answer is partial and which groups
// nobody evaluates.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";

import {
  browserSuite, requirements, screenshots, startPrometheus, startTocsin, waitFor,
} from "../lib/harness.mjs";

const GROUPS = 6;

function rules() {
  const out = ["groups:"];
  for (let i = 1; i <= GROUPS; i++) {
    out.push(`  - name: g${i}`, "    interval: 1s", "    rules:", `      - alert: G${i}`, `        expr: vector(${i}) > 0`);
  }
  return out.join("\n") + "\n";
}

const req = requirements();

describe("status UI of a cluster", { skip: req.skip }, () => {
  const members = [];
  const host = (m) => new URL(m.url).host;

  const ui = browserSuite("cluster", req, async (s) => {
    const prom = s.keep(await startPrometheus(req.need.prometheus, s.dir));
    const rulesFile = path.join(s.dir, "rules.yml");
    fs.writeFileSync(rulesFile, rules());
    const peers = path.join(s.dir, "peers");
    fs.writeFileSync(peers, "");
    for (const n of [0, 1]) {
      members.push(s.keep(await startTocsin(req.need.tocsin, [
        `-rule=${rulesFile}`,
        `-datasource.url=${prom.url}`,
        "-cluster.membersCount=2",
        `-cluster.memberNum=tocsin-${n}`,
        `-cluster.peers=file://${peers}`,
        "-cluster.refreshInterval=500ms",
        "-cluster.requestTimeout=1s",
      ], s.dir, `tocsin-${n}`)));
    }
    // The ports are known only now: the members read the list at their next round.
    fs.writeFileSync(peers, members.map((m) => `${host(m)}\n`).join(""));
    for (const m of members) {
      await waitFor(`${m.url}/api/v1/status`, m.proc, {
        check: (b) => {
          const c = JSON.parse(b).data.cluster;
          return c.peers.length === 2 && c.peers.every((p) => p.ready) && c.converged;
        },
      });
    }
    // Every group evaluated by its owner.
    await waitFor(`${members[0].url}/api/v1/rules`, members[0].proc, {
      check: (b) => {
        const d = JSON.parse(b).data;
        return !d.partial && d.groups.length === GROUPS && d.groups.every((g) => !g.lastEvaluation.startsWith("0001"));
      },
    });
  });

  /** Group name → owners, as the member's API says. */
  async function owners(m) {
    const body = await (await fetch(`${m.url}/api/v1/rules`)).json();
    return new Map(body.data.groups.map((g) => [g.name, g.owners]));
  }

  it("shows every group of the cluster on each member, with where it runs", async () => {
    const want = await owners(members[0]);
    assert.equal(want.size, GROUPS);
    const mine = [...want.values()].filter((o) => o[0] === "0").length;
    assert.ok(mine > 0 && mine < GROUPS, `both members own groups: ${[...want]}`);
    for (const [n, m] of members.entries()) {
      await ui.page.goto(`${m.url}/#/groups`);
      await ui.page.locator("#groups-summary").waitFor();
      assert.equal(await ui.page.locator("details.group").count(), GROUPS);
      assert.equal(await ui.page.locator("#cluster-partial").count(), 0, "no partial banner");
      for (const [name, o] of want) {
        const note = (await ui.page.locator(`details.group[data-group="${name}"] .owner`).innerText()).trim();
        const other = members[Number(o[0])];
        if (o[0] === String(n)) assert.equal(note, "evaluated here", name);
        else assert.equal(note, `on member ${o[0]} (${host(other)})`, name);
      }
    }
    await screenshots(ui.page, "cluster-groups");
  });

  it("shows the membership on the Configuration page", async () => {
    await ui.page.goto(`${members[1].url}/#/config`);
    const table = ui.page.locator("#cluster-members");
    await table.waitFor();
    assert.equal(await table.locator("tbody tr").count(), 2);
    assert.match(await table.locator('tr[data-member="1"]').innerText(), /this member/);
    assert.doesNotMatch(await table.locator('tr[data-member="0"]').innerText(), /this member/);
    const owned = await ui.page.locator("#cluster-owned").innerText();
    const theirs = [...(await owners(members[1])).values()].filter((o) => o[0] === "1").length;
    assert.equal(owned.trim(), `${theirs} of ${GROUPS}`);
    assert.equal(await ui.page.locator("#cluster-peers tbody tr").count(), 2);
    await screenshots(ui.page, "cluster-config");
  });

  it("says which groups nobody evaluates when a member is down", async () => {
    const want = await owners(members[0]);
    await members[1].proc.stop();
    await ui.page.goto(`${members[0].url}/#/groups`);
    const banner = ui.page.locator("#cluster-partial");
    await banner.waitFor();
    assert.match(await banner.innerText(), /member 1\b.*did not answer/);
    for (const [name, o] of want) {
      const note = (await ui.page.locator(`details.group[data-group="${name}"] .owner`).innerText()).trim();
      if (o[0] === "0") assert.equal(note, "evaluated here", name);
      else assert.match(note, /^not evaluated: member 1\b.* did not answer$/, name);
    }
    await screenshots(ui.page, "cluster-partial");
  });
});
