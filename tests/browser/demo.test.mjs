// demo.test.mjs: the demo page in a real browser: publish, XSS payloads, background jobs on channels that end, cut buttons,
// the comparison table and two tabs sharing one set of connections.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, launchChromium, publish, heldRequests, sleep, TRANSPORTS } from './harness.mjs';

const FLAGS = ['--heartbeat', '1s', '--poll-timeout', '5s'];
// The demo's panes, in its order: the WebSocket beside the four HTTP transports.
const PANES = ['ws', ...TRANSPORTS];
const XSS = [
  '<img src=x onerror="top.__xss = (top.__xss || 0) + 1">',
  '</script><script>top.__xss = (top.__xss || 0) + 1</script>',
  '<svg onload="top.__xss = (top.__xss || 0) + 1"></svg><!--',
];

async function openDemo(context, gateway, onRequest) {
  const page = await context.newPage();
  if (onRequest) page.on('request', onRequest);
  await page.goto(`${gateway.url}/`);
  return page;
}

async function waitAllOpen(page) {
  await page.waitForFunction(() => {
    const panes = [...document.querySelectorAll('.pane')];
    return panes.length === 5 && panes.every((p) => p.getAttribute('data-status') === 'open');
  }, null, { timeout: 10_000, polling: 50 });
}

// The texts each pane shows, newest first.
function shown(page) {
  return page.evaluate(() => Object.fromEntries([...document.querySelectorAll('.pane')].map((p) => [
    p.getAttribute('data-transport'), [...p.querySelectorAll('.events .ev-data')].map((d) => d.textContent),
  ])));
}

async function waitShown(page, text, timeout) {
  await page.waitForFunction((text) => {
    const panes = [...document.querySelectorAll('.pane')];
    return panes.every((p) => [...p.querySelectorAll('.ev-data')].some((d) => d.textContent === text));
  }, text, { timeout, polling: 20 });
}

async function waitSubscribers(gateway, channel, count) {
  for (const start = Date.now(); Date.now() - start < 10_000;) {
    const info = await (await fetch(`${gateway.url}/channels/${channel}`)).json();
    if (info.subscribers === count) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`the gateway never held ${count} subscribers of ${channel}`);
}

async function publishFromForm(page, text) {
  await page.fill('#message', text);
  await page.click('#publish button[type=submit]');
  await page.waitForFunction(() => document.getElementById('message').value === '', null, { timeout: 5000 });
}

test('text published from the form appears as text in all five panes, and XSS payloads never run', async (t) => {
  const gateway = await startGateway(t, FLAGS);
  const page = await openDemo(await launchChromium(t), gateway);
  await waitAllOpen(page);
  assert.equal(await page.textContent('#role'), 'This tab holds the five connections for every open tab of this page.');
  // The long-poll pane is counted only while a poll is held: publish once all five are held.
  await waitSubscribers(gateway, 'demo', 5);
  await publishFromForm(page, 'Hello, five transports!\nsecond line');
  await waitShown(page, 'Hello, five transports!\nsecond line', 1000);
  assert.match(await page.textContent('#publish-note'), /^Published \S+ to 5 subscribers\.$/);

  for (const payload of XSS) {
    await publishFromForm(page, payload);
    await waitShown(page, payload, 3000);
  }
  await page.waitForFunction(() => [...document.querySelectorAll('.stat-events')].every((d) => d.textContent === '4'));
  const panes = await shown(page);
  for (const transport of PANES) {
    assert.deepEqual(panes[transport], [...XSS].reverse().concat('Hello, five transports!\nsecond line'), transport);
  }
  assert.equal(await page.evaluate(() => document.querySelectorAll('.events img, .events svg, .events script').length), 0);
  for (const frame of page.frames()) {
    assert.equal(await frame.evaluate(() => window.__xss), undefined, `no payload ran in ${frame.url()}`);
  }
  const figures = await page.evaluate(() => [...document.querySelectorAll('.pane')].map((p) => [
    p.querySelector('.stat-events').textContent, p.querySelector('.stat-latency').textContent]));
  for (const [events, latency] of figures) {
    assert.equal(events, '4');
    assert.match(latency, /^\d+ ms$/);
  }
});

test('a background job reaches 100 % in every pane while the page stays responsive', async (t) => {
  const gateway = await startGateway(t, FLAGS);
  const page = await openDemo(await launchChromium(t), gateway);
  await waitAllOpen(page);
  await page.fill('#steps', '30');
  await page.fill('#pace', '100');
  await page.click('#job button[type=submit]');
  await page.waitForFunction(() => [...document.querySelectorAll('.progress')].every((p) => Number(p.getAttribute('aria-valuenow')) > 0));
  const started = Date.now();
  await publishFromForm(page, 'published during the job');
  await waitShown(page, 'published during the job', 1000);
  assert.ok(Date.now() - started < 1500, 'a publish during the job is not held back');
  await page.waitForFunction(() => [...document.querySelectorAll('.job')].every((j) => j.getAttribute('data-state') === 'done'), null, { timeout: 10_000 });
  const bars = await page.evaluate(() => [...document.querySelectorAll('.progress')].map((p) => p.getAttribute('aria-valuenow')));
  assert.deepEqual(bars, Array(5).fill('100'));
  assert.match(await page.textContent('#job-note'), /^Job \S+ started on job-\d+: 30 steps, one every 100 ms\.$/);
});

test("each pane follows a job's channel on the one connection it holds, and the ended channel leaves with no request", async (t) => {
  const gateway = await startGateway(t, FLAGS);
  const page = await openDemo(await launchChromium(t), gateway);
  const held = Object.fromEntries(TRANSPORTS.map((transport) => [transport, heldRequests(page, transport)]));
  const sockets = [];
  page.on('websocket', (socket) => sockets.push(socket));
  await waitAllOpen(page);
  await page.fill('#steps', '10');
  await page.fill('#pace', '50');
  await page.click('#job button[type=submit]');
  await page.waitForFunction(() => /^Job \S+ started on job-\d+:/.test(document.getElementById('job-note').textContent));
  const job = /started on (job-\d+)/.exec(await page.textContent('#job-note'))[1];
  await page.waitForFunction((job) => [...document.querySelectorAll('.stat-channels')].every((d) => d.textContent === `demo, ${job}`), job, { polling: 20 });
  await page.waitForFunction(() => {
    const jobs = [...document.querySelectorAll('.job')];
    return jobs.length === 5 && jobs.every((j) => j.getAttribute('data-ended') === 'true');
  }, null, { timeout: 15_000 });
  const bars = await page.evaluate(() => [...document.querySelectorAll('.progress')].map((p) => p.getAttribute('aria-valuenow')));
  assert.deepEqual(bars, Array(5).fill('100'));
  const atEnd = Object.fromEntries(TRANSPORTS.map((transport) => [transport, held[transport].count()]));
  await sleep(2500);
  const figures = (name) => page.evaluate((name) => [...document.querySelectorAll(`.stat-${name}`)].map((d) => d.textContent), name);
  assert.deepEqual(await figures('channels'), Array(5).fill('demo'), 'the job channel left every connection');
  assert.deepEqual(await figures('held'), Array(5).fill('1'), 'each pane holds one connection');
  assert.deepEqual(await figures('reconnects'), Array(5).fill('0'), 'the end made no pane reconnect');
  for (const transport of TRANSPORTS) {
    if (transport === 'poll') {
      assert.equal(held[transport].lists().at(-1), 'demo', 'the next poll asks for the demo channel alone');
      continue;
    }
    assert.deepEqual(held[transport].lists(), ['demo', `demo,${job}`], `${transport}: one re-open to add the job`);
    assert.equal(held[transport].count(), atEnd[transport], `${transport}: no request after the end`);
    assert.equal(held[transport].open(), 1, `${transport}: the connection is still held`);
  }
  // The WebSocket pane added and dropped the job's channel with messages on the one socket it opened.
  assert.deepEqual(sockets.map((socket) => new URL(socket.url()).pathname), ['/ws/demo'], 'ws: one socket, no re-open');
  assert.equal(sockets[0].isClosed(), false, 'ws: the socket is still held');
  const rows = await page.evaluate(() => [...document.querySelectorAll('#compare-rows tr')].map((row) => [
    row.getAttribute('data-transport'), ...[...row.querySelectorAll('td:not(.cmp-bar-cell)')].map((cell) => cell.textContent)]));
  assert.deepEqual(rows.map((row) => row[0]), PANES);
  for (const [transport, perEvent, requests, p50, p95] of rows) {
    assert.match(perEvent, /^(≈ )?\d+(\.\d)? (B|KiB)$/, `${transport} bytes per event`);
    assert.match(requests, /^\d+\.\d\d$/, `${transport} requests per event`);
    assert.match(p50, /^\d+ ms$/, `${transport} p50`);
    assert.match(p95, /^\d+ ms$/, `${transport} p95`);
    assert.ok(Number.parseInt(p95, 10) >= Number.parseInt(p50, 10), `${transport}: p95 >= p50`);
  }
});

test('a cut button drops its connection and the pane resumes from its cursor with nothing lost', async (t) => {
  const gateway = await startGateway(t, FLAGS);
  const page = await openDemo(await launchChromium(t), gateway);
  await waitAllOpen(page);
  await publish(gateway.url, 'demo', 'before the cut');
  await waitShown(page, 'before the cut', 3000);
  for (const transport of PANES) {
    await page.click(`.pane[data-transport=${transport}] .cut`);
  }
  await page.waitForFunction(() => [...document.querySelectorAll('.pane')].every((p) => p.getAttribute('data-status') === 'waiting'));
  for (const text of ['while cut 1', 'while cut 2', 'while cut 3']) await publish(gateway.url, 'demo', text);
  await waitShown(page, 'while cut 3', 6000);
  await sleep(300);
  const panes = await shown(page);
  for (const transport of PANES) {
    assert.deepEqual(panes[transport], ['while cut 3', 'while cut 2', 'while cut 1', 'before the cut'], transport);
  }
  await page.waitForFunction(() => [...document.querySelectorAll('.stat-reconnects')].every((d) => d.textContent === '1'));
  await sleep(1000);
  const reconnects = await page.evaluate(() => [...document.querySelectorAll('.stat-reconnects')].map((d) => d.textContent));
  assert.deepEqual(reconnects, Array(5).fill('1'), 'one reconnect per cut, no storm');
});

test('two tabs share one set of five connections and both get a publish from either within a second', async (t) => {
  const gateway = await startGateway(t, FLAGS);
  const context = await (await launchChromium(t)).newContext();
  const held = { first: 0, second: 0 };
  const counter = (name) => (req) => { if (/\/(sse|stream|iframe|poll)\//.test(req.url())) held[name] += 1; };
  const first = await openDemo(context, gateway, counter('first'));
  await waitAllOpen(first);
  const second = await context.newPage();
  second.on('request', counter('second'));
  second.on('websocket', () => { held.second += 1; });
  await second.goto(`${gateway.url}/`);
  await waitAllOpen(second);
  assert.match(await second.textContent('#role'), /^Another tab holds the connections/);
  const job = await fetch(`${gateway.url}/demo/jobs?steps=20&pace_ms=100&channel=demo`, { method: 'POST' });
  assert.equal(job.status, 202);

  for (const [from, text] of [[second, 'from the second tab'], [first, 'from the first tab'], [second, 'second again']]) {
    await from.bringToFront();
    const started = Date.now();
    await publishFromForm(from, text);
    await Promise.all([waitShown(first, text, 1000), waitShown(second, text, 1000)]);
    assert.ok(Date.now() - started < 1000, `"${text}" reached both tabs within a second`);
  }
  for (const page of [first, second]) {
    await page.waitForFunction(() => [...document.querySelectorAll('.job')].every((j) => j.getAttribute('data-state') === 'done'), null, { timeout: 10_000 });
    assert.deepEqual((await shown(page)).poll, ['second again', 'from the first tab', 'from the second tab']);
  }
  await second.click('.pane[data-transport=stream] .cut');
  for (const page of [first, second]) {
    await page.waitForFunction(() => document.querySelector('.pane[data-transport=stream] .stat-reconnects').textContent === '1', null, { polling: 50 });
  }
  assert.equal(held.second, 0, 'the second tab opened no connection of its own');
  const info = await (await fetch(`${gateway.url}/channels/demo`)).json();
  assert.ok(info.subscribers <= 5, `the gateway holds ${info.subscribers} subscribers for two tabs`);

  await first.close();
  await second.waitForFunction(() => document.getElementById('role').getAttribute('data-role') === 'leader');
  await waitAllOpen(second);
  await publish(gateway.url, 'demo', 'after the first tab closed');
  await waitShown(second, 'after the first tab closed', 3000);
  assert.deepEqual((await shown(second)).sse.slice(0, 2), ['after the first tab closed', 'second again']);
});

test('without EventSource the demo page marks the SSE pane unsupported and the other four still deliver', async (t) => {
  const gateway = await startGateway(t, FLAGS);
  const page = await (await launchChromium(t)).newPage();
  await page.addInitScript(() => { delete window.EventSource; });
  await page.goto(`${gateway.url}/`);
  await page.waitForFunction(() => [...document.querySelectorAll('.pane')].map((p) => p.getAttribute('data-status')).join() === 'open,unsupported,open,open,open');
  await publishFromForm(page, 'no EventSource here');
  await page.waitForFunction(() => [...document.querySelectorAll('.pane:not([data-transport=sse]) .ev-data')].filter((d) => d.textContent === 'no EventSource here').length === 4);
  assert.deepEqual((await shown(page)).sse, []);
  assert.equal(await page.isDisabled('.pane[data-transport=sse] .cut'), true);
});

test('without navigator.locks a BroadcastChannel heartbeat still elects one tab to hold the connections', async (t) => {
  const gateway = await startGateway(t, FLAGS);
  const context = await (await launchChromium(t)).newContext();
  await context.addInitScript(() => { Object.defineProperty(Navigator.prototype, 'locks', { value: undefined }); });
  const first = await openDemo(context, gateway);
  assert.equal(await first.evaluate(() => navigator.locks), undefined);
  await waitAllOpen(first);
  const second = await openDemo(context, gateway);
  await waitAllOpen(second);
  await sleep(2500);
  const roles = await Promise.all([first, second].map((p) => p.getAttribute('#role', 'data-role')));
  assert.deepEqual(roles, ['leader', 'follower']);
  await publishFromForm(second, 'elected by heartbeat');
  await Promise.all([waitShown(first, 'elected by heartbeat', 1000), waitShown(second, 'elected by heartbeat', 1000)]);
  const info = await (await fetch(`${gateway.url}/channels/demo`)).json();
  assert.ok(info.subscribers <= 5, `the gateway holds ${info.subscribers} subscribers for two tabs`);
});
