// Processes and browser for the UI tests: real Prometheus, Alertmanager and the tocsin
// debug binary, and Debian's Chromium driven by playwright-core.
//
// A missing binary fails the run under CI=true; elsewhere the tests are skipped with a
// message saying what is missing (never silently passed).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { after, afterEach, before } from "node:test";

import { chromium } from "playwright-core";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
export const SCREENSHOTS = path.join(ROOT, "integration/browser/screenshots");
const PEERS = process.env.TOCSIN_PEERS_DIR || path.join(ROOT, ".peers/usr/bin");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const TOCSIN = process.env.TOCSIN_BIN || path.join(ROOT, "target/debug/tocsin");

/** Ports this suite may use: 20000-20999 unless told otherwise. */
const PORT_LO = Number(process.env.TOCSIN_UI_PORT_LO || 20000);
const PORT_HI = Number(process.env.TOCSIN_UI_PORT_HI || 20999);
let nextPort = PORT_LO + (process.pid % 200);

/** Every binary the suite needs, or the reason it cannot run. */
export function requirements() {
  const need = {
    chromium: CHROMIUM,
    prometheus: path.join(PEERS, "prometheus"),
    alertmanager: path.join(PEERS, "prometheus-alertmanager"),
    tocsin: TOCSIN,
  };
  const missing = Object.entries(need).filter(([, p]) => !fs.existsSync(p)).map(([n, p]) => `${n} (${p})`);
  if (missing.length) {
    const msg = `missing: ${missing.join(", ")}; install chromium (apt-get install chromium), run integration/install-peers.sh and cargo build`;
    if (process.env.CI === "true") throw new Error(`${msg} (CI=true: failing, not skipping)`);
    return { skip: msg };
  }
  return { need };
}

/** A free TCP port on 127.0.0.1 within the suite's range. */
export async function freePort() {
  for (let i = 0; i <= PORT_HI - PORT_LO; i++) {
    const port = nextPort;
    nextPort = nextPort >= PORT_HI ? PORT_LO : nextPort + 1;
    const ok = await new Promise((resolve) => {
      const s = net.createServer();
      s.once("error", () => resolve(false));
      s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error(`no free port in ${PORT_LO}-${PORT_HI}`);
}

export function tempDir(name) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `tocsin-ui-${name}-`));
}

/** A child process with its output in `<dir>/<name>.log`; `stop()` ends it. */
export function start(name, argv, dir) {
  const log = path.join(dir, `${name}.log`);
  const out = fs.openSync(log, "a");
  const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", out, out] });
  fs.closeSync(out);
  let exited = null;
  child.on("exit", (code, sig) => { exited = sig || code; });
  return {
    name, child, log,
    exited: () => exited,
    tail: (n = 30) => fs.readFileSync(log, "utf8").split("\n").slice(-n).join("\n"),
    stop: () => new Promise((resolve) => {
      if (exited !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
      setTimeout(() => { if (exited === null) child.kill("SIGKILL"); }, 5000).unref();
    }),
  };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `url` until it answers 2xx (and `check(body)` holds, if given). */
export async function waitFor(url, proc, { timeout = 30000, check } = {}) {
  const end = Date.now() + timeout;
  let last = "";
  while (Date.now() < end) {
    if (proc && proc.exited() !== null) throw new Error(`${proc.name} exited (${proc.exited()}):\n${proc.tail()}`);
    try {
      const r = await fetch(url);
      const body = await r.text();
      if (r.ok && (!check || check(body))) return body;
      last = `HTTP ${r.status}: ${body.slice(0, 200)}`;
    } catch (e) {
      last = e.message;
    }
    await sleep(200);
  }
  throw new Error(`${url} not ready after ${timeout} ms (${last})${proc ? "\n" + proc.tail() : ""}`);
}

/** Prometheus scraping itself every second, accepting remote write. */
export async function startPrometheus(bin, dir) {
  const port = await freePort();
  fs.writeFileSync(path.join(dir, "prometheus.yml"),
    `global: {scrape_interval: 1s}\nscrape_configs:\n  - job_name: prometheus\n    static_configs: [{targets: ["127.0.0.1:${port}"]}]\n`);
  const p = start("prometheus", [bin,
    `--config.file=${path.join(dir, "prometheus.yml")}`,
    `--storage.tsdb.path=${path.join(dir, "tsdb")}`,
    `--web.listen-address=127.0.0.1:${port}`,
    "--web.enable-remote-write-receiver"], dir);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/-/ready`, p);
  // Wait for the first scrape, so `up` exists when tocsin starts.
  await waitFor(`${url}/api/v1/query?query=up`, p, { check: (b) => JSON.parse(b).data.result.length > 0 });
  return { proc: p, url };
}

/** Alertmanager whose only receiver goes nowhere. */
export async function startAlertmanager(bin, dir) {
  const port = await freePort();
  const cluster = await freePort();
  fs.writeFileSync(path.join(dir, "alertmanager.yml"),
    "route: {receiver: none, group_wait: 1s, group_interval: 1s}\nreceivers: [{name: none}]\n");
  const p = start("alertmanager", [bin,
    `--config.file=${path.join(dir, "alertmanager.yml")}`,
    `--storage.path=${path.join(dir, "am")}`,
    `--web.listen-address=127.0.0.1:${port}`,
    `--cluster.listen-address=127.0.0.1:${cluster}`], dir);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/-/ready`, p);
  return { proc: p, url };
}

/** The tocsin binary with `args`, listening on a port of the suite's range. */
export async function startTocsin(bin, args, dir, name = "tocsin") {
  const port = await freePort();
  const p = start(name, [bin, ...args, `-httpListenAddr=127.0.0.1:${port}`], dir);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/-/ready`, p, { timeout: 60000 });
  return { proc: p, url };
}

/** Headless Chromium with the flags a closed network needs and a fresh profile. */
export async function launchBrowser(executablePath) {
  const profile = tempDir("chromium");
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1280, height: 860 },
  });
  return {
    context,
    close: async () => {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Saves light and dark screenshots of the current page as `<name>-light.png` / `-dark.png`. */
export async function screenshots(page, name) {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}-${scheme}.png`), fullPage: false });
  }
  await page.emulateMedia({ colorScheme: "light" });
}

/**
 * The set-up every UI suite shares, as hooks of the calling `describe`: a temporary
 * directory, the processes `start(suite)` starts (each passed through `suite.keep`, so
 * that they are stopped afterwards, last started first), then the browser and, unless
 * `page: false`, one page whose script errors fail the test during which they happened.
 * Returns the suite: `dir`, `browser` and `page` are set once the `before` hook ran.
 */
export function browserSuite(name, req, start, { page = true } = {}) {
  const suite = { dir: null, browser: null, page: null, procs: [] };
  suite.keep = (p) => { suite.procs.push(p); return p; };
  const pageErrors = [];
  before(async () => {
    suite.dir = tempDir(name);
    await start(suite);
    suite.browser = await launchBrowser(req.need.chromium);
    if (page) {
      suite.page = await suite.browser.context.newPage();
      suite.page.on("pageerror", (e) => pageErrors.push(e.message));
      suite.page.setDefaultTimeout(10000); // what a person would wait; a broken page fails fast
    }
  });
  if (page) {
    afterEach(() => {
      assert.deepEqual(pageErrors.splice(0), [], "no script errors on the page");
    });
  }
  after(async () => {
    await suite.browser?.close();
    for (const p of suite.procs.reverse()) await p.proc.stop();
    if (suite.dir) fs.rmSync(suite.dir, { recursive: true, force: true });
  });
  return suite;
}
