// harness.mjs: starts a real cometgate on a free loopback port and Debian's Chromium, plus small helpers the browser tests share.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = process.env.COMETGATE_BIN || path.join(REPO, 'target/debug/cometgate');
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  // Chromium 156 refuses a WebSocket to loopback from the page cometPage fulfils through Playwright
  // (ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS): that page has no address of its own to compare with.
  '--disable-features=LocalNetworkAccessChecks',
];
export const TRANSPORTS = ['sse', 'stream', 'iframe', 'poll'];
// Every rung comet.js has: the four HTTP transports above between the WebSocket and JSONP.
export const LADDER = ['ws', ...TRANSPORTS, 'jsonp'];

// Starts the gateway with `flags`; resolves once it printed its address. Call stop() when done (t.after does it for you).
export async function startGateway(t, flags = [], { bind = '127.0.0.1:0' } = {}) {
  if (!existsSync(BIN)) {
    throw new Error(`cometgate binary not found at ${BIN}: run \`cargo build\` in ${REPO} or set COMETGATE_BIN`);
  }
  const child = spawn(BIN, ['--bind', bind, ...flags], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr = (stderr + chunk).slice(-4000); });
  const lines = createInterface({ input: child.stdout });
  const seen = [];
  const match = await new Promise((resolve, reject) => {
    const fail = (why) => { clearTimeout(timer); child.kill('SIGKILL'); reject(new Error(`${why}\nstdout: ${seen.join('\n')}\nstderr: ${stderr}`)); };
    const timer = setTimeout(() => fail('cometgate printed no address within 10 s'), 10_000);
    // The address line comes first; log lines that may precede it are tolerated (and shown if it never comes).
    lines.on('line', (line) => {
      const found = /^cometgate listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(line);
      if (!found) { seen.push(line); return; }
      clearTimeout(timer);
      lines.removeAllListeners('line');
      resolve(found);
    });
    child.once('exit', (code) => fail(`cometgate exited with ${code} before listening`));
    child.once('error', (err) => fail(err.message));
  });
  lines.on('line', () => {});
  const gateway = {
    url: match[1],
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) { resolve(); return; }
      child.once('exit', resolve);
      child.kill('SIGKILL');
    }),
  };
  t?.after(gateway.stop);
  return gateway;
}

export async function launchChromium(t) {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's package (apt-get install -y chromium)`);
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  t?.after(() => browser.close());
  return browser;
}

// Publishes from Node (a loopback peer, so no token is needed) and returns the gateway's answer.
export async function publish(url, channel, data, event) {
  const query = event ? `?event=${encodeURIComponent(event)}` : '';
  const res = await fetch(`${url}/channels/${encodeURIComponent(channel)}${query}`, { method: 'POST', body: data });
  if (res.status !== 201) throw new Error(`publish to ${channel} answered ${res.status}: ${await res.text()}`);
  return res.json();
}

// A blank same-origin page that loads only /static/comet.js. Playwright serves this one HTML document;
// everything the page requests after it (comet.js, every transport) goes to the real gateway.
export async function cometPage(browser, gateway, { initScript } = {}) {
  const page = await browser.newPage();
  if (initScript) await page.addInitScript(initScript);
  const pageUrl = `${gateway.url}/__test__/page`;
  await page.route(pageUrl, (route) => route.fulfill({
    contentType: 'text/html; charset=utf-8',
    body: '<!doctype html><meta charset="utf-8"><title>comet.js test</title><body><script src="/static/comet.js"></script></body>',
  }));
  await page.goto(pageUrl);
  await page.unrouteAll();
  await page.evaluate(() => {
    window.received = {};
    window.gaps = {};
    window.statuses = {};
    window.handles = {};
  });
  return page;
}

// Subscribes inside the page; events land in window.received[key] as {id, event, data, time}.
export function subscribe(page, key, channel, options = {}) {
  return page.evaluate(({ key, channel, options }) => {
    window.received[key] = [];
    window.gaps[key] = [];
    window.statuses[key] = [];
    window.handles[key] = window.Comet.subscribe(channel, Object.assign({}, options, {
      onEvent: (ev, handle) => {
        window.received[key].push({ id: ev.id, event: ev.event, data: ev.data, time: ev.time });
        if (options.closeOn && ev.event === options.closeOn) handle.close();
      },
      onGap: (gap) => window.gaps[key].push(gap),
      onStatus: (status, info) => window.statuses[key].push(`${status}:${info.transport}`),
    }));
    return window.handles[key].transport;
  }, { key, channel, options });
}

export async function waitForOpen(page, key, timeout = 10_000) {
  await page.waitForFunction((key) => window.statuses[key].some((s) => s.startsWith('open:')), key, { timeout });
}

export async function waitForCount(page, key, count, timeout = 15_000) {
  try {
    await page.waitForFunction(({ key, count }) => window.received[key].length >= count, { key, count }, { timeout });
  } catch (err) {
    const got = await page.evaluate((key) => window.received[key].length, key);
    throw new Error(`${key}: received ${got} of ${count} events within ${timeout} ms`);
  }
  return page.evaluate((key) => window.received[key], key);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export const FIREFOX = process.env.FIREFOX_BIN || '/usr/bin/firefox-esr';

// Debian's Firefox ESR over WebDriver BiDi (puppeteer-core; no browser download).
export async function launchFirefox(t) {
  if (!existsSync(FIREFOX)) {
    throw new Error(`Firefox ESR not found at ${FIREFOX}: install Debian's package (apt-get install -y firefox-esr)`);
  }
  const { default: puppeteer } = await import('puppeteer-core');
  const browser = await puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX, headless: true });
  t?.after(() => browser.close());
  return browser;
}

// Records the held requests `target` (a page or a context) makes on `transport`: the anchoring polls that are not held
// (timeout=0) are left out. lists() gives the channel lists asked for, consecutive repeats collapsed; count() the
// requests; open() how many are in flight now (a closed page's are over), most() the most ever in flight at once;
// pages() which pages made them.
export function heldRequests(target, transport) {
  const made = [], live = new Set();
  let most = 0;
  const mine = (request) => {
    const url = new URL(request.url());
    return url.pathname.startsWith(`/${transport}/`) && url.searchParams.get('timeout') !== '0';
  };
  const done = (request) => live.delete(request);
  target.on('request', (request) => {
    if (!mine(request)) return;
    const page = request.frame().page();
    made.push({ list: decodeURIComponent(new URL(request.url()).pathname.split('/')[2]), page });
    live.add(request);
    most = Math.max(most, live.size);
    page.once('close', () => done(request));
  });
  target.on('requestfinished', done);
  target.on('requestfailed', done);
  return {
    lists: () => made.map((r) => r.list).filter((list, i, all) => i === 0 || all[i - 1] !== list),
    count: () => made.length,
    open: () => live.size,
    most: () => most,
    pages: () => [...new Set(made.map((r) => r.page))],
  };
}
