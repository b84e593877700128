// resume.test.mjs: cut connections and the server's age and byte caps lose nothing and repeat nothing, on every rung.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, launchChromium, publish, cometPage, subscribe, waitForOpen, waitForCount, sleep, LADDER as TRANSPORTS } from './harness.mjs';

const COUNT = 120;
const line = (i) => `event ${String(i).padStart(3, '0')} ${'·'.repeat(40)}`;

test('a connection cut mid-stream or ended by the server resumes from its cursor with no loss and no duplicate', async (t) => {
  const gateway = await startGateway(t, ['--heartbeat', '1s', '--poll-timeout', '2s', '--stream-max-age', '3s', '--stream-max-bytes', '4096']);
  const browser = await launchChromium(t);
  const page = await cometPage(browser, gateway);
  const historyBefore = await page.evaluate(() => history.length);
  const channel = 'resume';
  for (const transport of TRANSPORTS) {
    await subscribe(page, transport, channel, { transport, minDelay: 100, watchdog: 5000 });
    await waitForOpen(page, transport);
  }
  const ids = [];
  for (let i = 0; i < COUNT; i++) {
    ids.push((await publish(gateway.url, channel, line(i))).id);
    if (i === 30 || i === 70) {
      await page.evaluate((all) => all.forEach((k) => window.handles[k].cut(400)), TRANSPORTS);
    }
    await sleep(25);
  }
  for (const transport of TRANSPORTS) {
    await waitForCount(page, transport, COUNT, 20_000);
  }
  await sleep(500);
  for (const transport of TRANSPORTS) {
    const got = await page.evaluate((k) => window.received[k], transport);
    assert.deepEqual(got.map((e) => e.id), ids, `${transport}: every id once, in order`);
    assert.deepEqual(got.map((e) => e.data), ids.map((_, i) => line(i)), `${transport}: data intact`);
    const stats = await page.evaluate((k) => window.handles[k].stats, transport);
    assert.ok(stats.reconnects >= 2, `${transport}: reconnected after each cut (${stats.reconnects})`);
    // Polls (JSONP too) hold no stream, and the age and byte caps do not apply to a WebSocket (docs/PROTOCOL.md).
    if (!['poll', 'jsonp', 'ws'].includes(transport)) {
      assert.ok(stats.reconnects >= 4, `${transport}: the byte cap also ended streams (${stats.reconnects} reconnects)`);
    }
    assert.deepEqual(await page.evaluate((k) => window.gaps[k], transport), [], `${transport}: no gap`);
  }
  assert.equal(await page.evaluate(() => history.length), historyBefore, 'iframe reconnects add no history entries');
  assert.equal(await page.evaluate(() => document.querySelectorAll('iframe').length), 1, 'old iframes are removed');
});

test('an idle subscription survives the age cap and heartbeats without reconnect storms', async (t) => {
  const gateway = await startGateway(t, ['--heartbeat', '1s', '--poll-timeout', '2s', '--stream-max-age', '2s']);
  const browser = await launchChromium(t);
  const page = await cometPage(browser, gateway);
  for (const transport of TRANSPORTS) {
    await subscribe(page, transport, 'idle', { transport, watchdog: 5000 });
  }
  await sleep(6500);
  const sent = await publish(gateway.url, 'idle', 'after a quiet while');
  for (const transport of TRANSPORTS) {
    const got = await waitForCount(page, transport, 1);
    assert.deepEqual(got.map((e) => e.id), [sent.id], transport);
    const stats = await page.evaluate((k) => window.handles[k].stats, transport);
    assert.ok(stats.requests <= 8, `${transport}: ${stats.requests} requests in 6.5 s idle`);
  }
});
