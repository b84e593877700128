// auto.test.mjs: `transport: 'auto'` picks EventSource in Chromium where WebSocket is missing (ladder.test.mjs has the WebSocket
// rung), and falls back when a transport is missing or cannot deliver.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, launchChromium, publish, cometPage, subscribe, waitForOpen, waitForCount } from './harness.mjs';

async function roundTrip(page, gateway, key, channel) {
  await waitForOpen(page, key);
  const sent = await publish(gateway.url, channel, `hello via ${key}`);
  const got = await waitForCount(page, key, 1);
  assert.deepEqual(got.map((e) => [e.id, e.data]), [[sent.id, `hello via ${key}`]]);
}

test('auto picks EventSource in Chromium when WebSocket is removed from window', async (t) => {
  const gateway = await startGateway(t);
  const page = await cometPage(await launchChromium(t), gateway, { initScript: () => { delete window.WebSocket; } });
  assert.equal(await subscribe(page, 'auto', 'auto-sse'), 'sse');
  await roundTrip(page, gateway, 'auto', 'auto-sse');
});

test('auto falls back to streaming XHR when EventSource is removed from window', async (t) => {
  const gateway = await startGateway(t);
  const page = await cometPage(await launchChromium(t), gateway, { initScript: () => { delete window.WebSocket; delete window.EventSource; } });
  assert.equal(await page.evaluate(() => typeof window.EventSource), 'undefined');
  assert.equal(await subscribe(page, 'auto', 'auto-stream'), 'stream');
  await roundTrip(page, gateway, 'auto', 'auto-stream');
});

test('the stream transport reads XHR at readyState 3 where fetch streams are missing', async (t) => {
  const gateway = await startGateway(t);
  const page = await cometPage(await launchChromium(t), gateway, { initScript: () => { delete window.fetch; } });
  assert.equal(await subscribe(page, 'xhr', 'xhr-stream', { transport: 'stream' }), 'stream');
  await roundTrip(page, gateway, 'xhr', 'xhr-stream');
  const requests = await page.evaluate(() => performance.getEntriesByType('resource').map((e) => e.initiatorType));
  assert.ok(!requests.includes('fetch'), `no fetch was used: ${requests}`);
});

test('auto moves on to the iframe when the stream never opens (a buffering proxy), and to polling when neither can', async (t) => {
  const gateway = await startGateway(t, ['--heartbeat', '1s']);
  const browser = await launchChromium(t);
  const page = await cometPage(browser, gateway, { initScript: () => { delete window.WebSocket; delete window.EventSource; } });
  await page.route(/\/stream\//, () => {});
  assert.equal(await subscribe(page, 'auto', 'auto-iframe', { openTimeout: 1500 }), 'stream');
  await roundTrip(page, gateway, 'auto', 'auto-iframe');
  assert.equal(await page.evaluate(() => window.handles.auto.transport), 'iframe');
  assert.ok((await page.evaluate(() => window.statuses.auto)).includes('fallback:iframe'));

  const held = await cometPage(browser, gateway, { initScript: () => { delete window.WebSocket; delete window.EventSource; } });
  await held.route(/\/(stream|iframe)\//, () => {});
  await subscribe(held, 'auto', 'auto-poll', { openTimeout: 1500 });
  await roundTrip(held, gateway, 'auto', 'auto-poll');
  assert.equal(await held.evaluate(() => window.handles.auto.transport), 'poll');
});
