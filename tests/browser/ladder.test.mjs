// ladder.test.mjs: the top rung in Chromium. `auto` picks the WebSocket, changes channels with messages on the socket it
// has, and, when a proxy refuses the upgrade or swallows every frame, falls back to the next rung from its cursor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as forward } from 'node:http';
import { startGateway, launchChromium, publish, cometPage, subscribe, waitForOpen, waitForCount, sleep } from './harness.mjs';

// A proxy in front of the gateway that passes every HTTP request through and treats a WebSocket upgrade by `mode`:
// 'refuse' answers 403, 'swallow' accepts the connection and never answers (a proxy that buffers).
function blockingProxy(t, gatewayUrl, mode) {
  const target = new URL(gatewayUrl);
  const server = createServer((req, res) => {
    const upstream = forward({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  const upgrades = [];
  server.on('upgrade', (req, socket) => {
    upgrades.push(req.url);
    if (mode === 'refuse') socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
  });
  const sockets = new Set();
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  t.after(() => { for (const s of sockets) s.destroy(); server.close(); });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${server.address().port}`, upgrades })));
}

test('auto picks the WebSocket in Chromium and changes channels on the socket it has, losing and repeating nothing', async (t) => {
  const gateway = await startGateway(t, ['--heartbeat', '1s']);
  const page = await cometPage(await launchChromium(t), gateway);
  const sockets = [];
  page.on('websocket', (ws) => sockets.push(new URL(ws.url()).pathname));
  await page.evaluate(() => {
    window.got = [];
    window.states = [];
    window.conn = window.Comet.connect({ onStatus: (state, info) => window.states.push(`${state}:${info.transport}`) });
    window.keep = (channel) => window.conn.subscribe(channel, { onEvent: (ev) => window.got.push([ev.channel, ev.id, ev.data]) });
    window.keep('ws-a');
  });
  await page.waitForFunction(() => window.states.includes('open:ws'));
  assert.equal(await page.evaluate(() => window.conn.transport), 'ws');
  const sent = [];
  const send = async (channel, data) => sent.push([channel, (await publish(gateway.url, channel, data)).id, data]);
  await send('ws-a', 'a1');
  await page.waitForFunction(() => window.got.length === 1);
  // Publishing on the kept channel while the second one is added: each of its events still arrives once.
  const adding = page.evaluate(() => { window.b = window.keep('ws-b'); });
  for (let i = 2; i <= 6; i++) await send('ws-a', `a${i}`);
  await adding;
  await page.waitForFunction(() => window.b.state === 'live');
  await send('ws-b', 'b1');
  await send('ws-a', 'a7');
  await page.evaluate(() => window.b.close());
  await sleep(200);
  await send('ws-a', 'a8');
  await page.waitForFunction((n) => window.got.length >= n, sent.length);
  await sleep(300);
  assert.deepEqual(await page.evaluate(() => window.got), sent);
  assert.deepEqual(sockets, ['/ws/ws-a'], 'one socket, its channels changed by messages');
  assert.equal(await page.evaluate(() => window.conn.stats.reopens), 0);
  assert.equal(await page.evaluate(() => window.conn.stats.changes), 2);
});

for (const mode of ['refuse', 'swallow']) {
  test(`auto falls back from a WebSocket a proxy ${mode === 'refuse' ? 'refuses' : 'swallows'} and resumes from its cursor`, async (t) => {
    const gateway = await startGateway(t, ['--heartbeat', '1s']);
    const proxy = await blockingProxy(t, gateway.url, mode);
    const page = await cometPage(await launchChromium(t), proxy);
    const before = await publish(gateway.url, 'blocked', 'before the subscription');
    assert.equal(await subscribe(page, 'auto', 'blocked', { cursor: before.id, openTimeout: 1500 }), 'ws');
    const sent = [];
    // Published while the client tries the socket and falls back.
    for (let i = 1; i <= 5; i++) { sent.push([(await publish(gateway.url, 'blocked', `during ${i}`)).id, `during ${i}`]); await sleep(150); }
    await waitForOpen(page, 'auto');
    for (let i = 1; i <= 3; i++) sent.push([(await publish(gateway.url, 'blocked', `after ${i}`)).id, `after ${i}`]);
    const got = await waitForCount(page, 'auto', sent.length);
    await sleep(300);
    assert.deepEqual((await page.evaluate(() => window.received.auto)).map((e) => [e.id, e.data]), sent);
    assert.ok(got.length === sent.length);
    const statuses = await page.evaluate(() => window.statuses.auto);
    assert.ok(statuses.includes('fallback:sse'), `the client says which rung it took: ${statuses}`);
    assert.equal(await page.evaluate(() => window.handles.auto.transport), 'sse');
    assert.ok(proxy.upgrades.length >= 1, 'the socket was tried');
  });
}
