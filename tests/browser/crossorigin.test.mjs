// crossorigin.test.mjs: a page on one origin (http://127.0.0.1:A) follows a gateway on another (http://localhost:B) on
// every cross-origin rung: the hidden iframe posting each call to the page's origin (forged messages are ignored), JSONP,
// CORS SSE and stream, and the WebSocket; each delivers every payload once and unchanged, and nothing runs. In Chromium
// and Firefox ESR; `auto` across origins picks the WebSocket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { startGateway, launchChromium, launchFirefox, publish, waitForOpen, waitForCount, sleep } from './harness.mjs';

const PAYLOADS = [
  'plain text',
  'line one\nline two\r\nline three',
  'unicode: héllo ✓ 日本語 😀 separators a\u2028b\u2029c',
  '</script><script>top.__xss = 1</script>',
  '<!-- not a comment --> <img src=x onerror="top.__xss = 1"> \\u003c/script>',
  '{"json": "inside"}',
  '',
];

// The application's own server on another loopback port (so another origin), serving one page that loads comet.js
// from the gateway named in `app.gateway`. Resolves to its origin.
function appServer(t, app) {
  const server = createServer((request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(`<!doctype html><meta charset="utf-8"><body><script src="${app.gateway}/static/comet.js"></script></body>`);
  });
  t.after(() => server.close());
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`)));
}

test('the hidden iframe delivers across origins with postMessage, exactly once, running nothing', async (t) => {
  const app = { gateway: '' };
  const origin = await appServer(t, app);
  const gateway = await startGateway(t, ['--allow-origin', origin, '--heartbeat', '1s']);
  app.gateway = gateway.url;
  const page = await (await launchChromium(t)).newPage();
  await page.goto(`${origin}/page`);
  assert.notEqual(origin, new URL(gateway.url).origin);
  await page.evaluate((base) => {
    window.received = { cross: [] };
    window.statuses = { cross: [] };
    window.handle = window.Comet.subscribe('across', {
      transport: 'iframe',
      base,
      onEvent: (ev) => window.received.cross.push({ id: ev.id, data: ev.data }),
      onStatus: (status, info) => window.statuses.cross.push(`${status}:${info.transport}`),
    });
  }, gateway.url);
  await waitForOpen(page, 'cross');
  const frameUrl = new URL(await page.evaluate(() => document.querySelector('iframe').src));
  assert.equal(frameUrl.searchParams.get('origin'), origin, 'the iframe names the page origin');
  const sent = [];
  for (const data of PAYLOADS) sent.push({ id: (await publish(gateway.url, 'across', data)).id, data });
  // A message from anything but the gateway's own iframe is ignored, however well it imitates one.
  await page.evaluate(() => {
    const forged = { comet: 'Comet.cb.c1', method: 'showMsg', args: [{ id: 'ffff-1', event: 'message', data: 'forged' }] };
    window.postMessage(JSON.stringify(forged), '*');
  });
  await waitForCount(page, 'cross', PAYLOADS.length);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.deepEqual(await page.evaluate(() => window.received.cross), sent);
  assert.equal(await page.evaluate(() => window.__xss), undefined, 'no payload ran');
});

test('an origin the gateway does not allow gets no iframe stream', async (t) => {
  const gateway = await startGateway(t, ['--heartbeat', '1s']);
  const response = await fetch(`${gateway.url}/iframe/across?origin=${encodeURIComponent('http://127.0.0.1:1')}`);
  assert.equal(response.status, 403);
  assert.equal((await response.json()).error, 'forbidden');
});

// Waits for `predicate(arg)` in the page, in Playwright's and Puppeteer's pages alike.
async function until(page, predicate, arg, what, timeout = 15_000) {
  const deadline = Date.now() + timeout;
  while (!(await page.evaluate(predicate, arg))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeout} ms`);
    await sleep(50);
  }
}

// Follows `channel` with `transport` from the page, publishes the corpus and checks each payload arrived once, in order.
async function deliversAcross(page, gatewayUrl, transport, channel) {
  await page.evaluate(({ base, transport, channel }) => {
    window.across = window.across || {};
    const got = window.across[transport] = { events: [], statuses: [] };
    got.handle = window.Comet.subscribe(channel, {
      transport, base,
      onEvent: (ev) => got.events.push({ id: ev.id, data: ev.data }),
      onStatus: (status, info) => got.statuses.push(`${status}:${info.transport}`),
    });
  }, { base: gatewayUrl, transport, channel });
  await until(page, (k) => window.across[k].statuses.some((s) => s.startsWith('open:')), transport, `${transport} opens`);
  const sent = [];
  for (const data of PAYLOADS) sent.push({ id: (await publish(gatewayUrl, channel, data)).id, data });
  await until(page, ({ k, n }) => window.across[k].events.length >= n, { k: transport, n: sent.length }, `${transport} delivers`);
  await sleep(300);
  // A one-channel SSE frame turns CR and CRLF into LF (docs/PROTOCOL.md, "Events").
  const expected = sent.map((e) => (transport === 'sse' ? { ...e, data: e.data.replace(/\r\n?/g, '\n') } : e));
  assert.deepEqual(await page.evaluate((k) => window.across[k].events, transport), expected, transport);
  assert.equal(await page.evaluate(() => window.__xss), undefined, `no payload ran (${transport})`);
  const picked = await page.evaluate((k) => window.across[k].handle.transport, transport);
  await page.evaluate((k) => window.across[k].handle.close(), transport);
  return picked;
}

const RUNGS = ['iframe', 'jsonp', 'sse', 'stream', 'ws', 'auto'];

for (const [name, launch] of [['Chromium', launchChromium], ['Firefox ESR', launchFirefox]]) {
  test(`${name}: the posting iframe, JSONP, CORS SSE and stream, and the WebSocket deliver across origins exactly once; auto picks the WebSocket`, async (t) => {
    const app = { gateway: '' };
    const origin = await appServer(t, app);
    const gateway = await startGateway(t, ['--allow-origin', origin, '--heartbeat', '1s']);
    app.gateway = gateway.url.replace('127.0.0.1', 'localhost');
    const page = await (await launch(t)).newPage();
    await page.goto(`${origin}/page`);
    assert.notEqual(origin, new URL(app.gateway).origin);
    for (const transport of RUNGS) {
      await t.test(transport, async () => {
        const picked = await deliversAcross(page, app.gateway, transport, `across-${transport}`);
        assert.equal(picked, transport === 'auto' ? 'ws' : transport);
      });
    }
    // Every JSONP poll's <script> and callback are gone once it is answered (at most a no-op waits for a late answer).
    assert.equal(await page.evaluate(() => document.querySelectorAll('script[src*="/jsonp/"]').length), 0);
    assert.deepEqual(await page.evaluate(() => Object.keys(window.Comet.cb).filter((k) => /^j/.test(k) && window.Comet.cb[k].length)), []);
  });
}

test('across origins with no WebSocket, EventSource or CORS XHR, auto takes the posting iframe, then JSONP', async (t) => {
  const app = { gateway: '' };
  const origin = await appServer(t, app);
  const gateway = await startGateway(t, ['--allow-origin', origin, '--heartbeat', '3s']);
  app.gateway = gateway.url.replace('127.0.0.1', 'localhost');
  const context = await (await launchChromium(t)).newContext();
  await context.addInitScript(() => { delete window.WebSocket; delete window.EventSource; window.XMLHttpRequest = undefined; });
  const follow = (page, channel, cursor) => page.evaluate(({ base, channel, cursor }) => {
    window.down = { events: [], statuses: [] };
    window.Comet.subscribe(channel, {
      base, cursor, openTimeout: 1500,
      onEvent: (ev) => window.down.events.push({ id: ev.id, data: ev.data }),
      onStatus: (status, info) => window.down.statuses.push(`${status}:${info.transport}`),
    });
  }, { base: app.gateway, channel, cursor });

  const quiet = await context.newPage();
  await quiet.goto(`${origin}/page`);
  assert.deepEqual(await quiet.evaluate((base) => window.Comet._.candidates({ base }), app.gateway), ['iframe', 'jsonp']);
  assert.deepEqual(await quiet.evaluate(() => window.Comet._.candidates({ base: '' })), ['stream', 'iframe'], 'JSONP only across origins');
  // On a quiet channel the posting iframe hears of its open only at the first heartbeat, after openTimeout: it is kept.
  await follow(quiet, 'quiet');
  await until(quiet, () => window.down.statuses.includes('open:iframe'), null, 'the iframe opens at its first heartbeat', 5000);
  assert.deepEqual(await quiet.evaluate(() => window.down.statuses), ['connecting:iframe', 'open:iframe']);

  // An iframe the gateway's side refuses: the next rung is JSONP, from the cursor.
  const page = await context.newPage();
  await page.goto(`${origin}/page`);
  await page.route(/\/iframe\//, (route) => route.fulfill({ status: 403, contentType: 'text/html', body: 'blocked' }));
  const before = await publish(gateway.url, 'down', 'before');
  await follow(page, 'down', before.id);
  const sent = [];
  for (const data of PAYLOADS) sent.push({ id: (await publish(gateway.url, 'down', data)).id, data });
  await until(page, (n) => window.down.events.length >= n, sent.length, 'JSONP delivers');
  await sleep(300);
  assert.deepEqual(await page.evaluate(() => window.down.events), sent);
  assert.ok((await page.evaluate(() => window.down.statuses)).includes('fallback:jsonp'));
  assert.equal(await page.evaluate(() => window.__xss), undefined, 'no payload ran');
});
