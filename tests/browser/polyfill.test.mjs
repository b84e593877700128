// polyfill.test.mjs: pages of the IE 10/11 era get EventSource from event-source-polyfill, which resumes with
// ?lastEventId= (a cross-origin Last-Event-ID header would need a preflight): nothing is lost across its reconnects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGateway, launchChromium, publish, cometPage, sleep } from './harness.mjs';

const POLYFILL = path.join(path.dirname(fileURLToPath(import.meta.url)), 'node_modules/event-source-polyfill/src/eventsource.js');
const EVENTS = 40;

test('event-source-polyfill resumes from ?lastEventId= after every stream end and loses nothing', async (t) => {
  // A stream ends after ~300 bytes (a few events) and the polyfill comes back 100 ms later.
  const gateway = await startGateway(t, ['--stream-max-bytes', '300', '--sse-retry', '100ms']);
  const page = await cometPage(await launchChromium(t), gateway, { initScript: () => { delete window.EventSource; } });
  await page.addScriptTag({ path: POLYFILL });
  assert.equal(await page.evaluate(() => window.EventSource === window.EventSourcePolyfill), true, 'the polyfill stands in');
  const requests = [];
  page.on('request', (request) => requests.push(request.url()));
  await page.evaluate((url) => {
    window.got = [];
    window.opened = 0;
    const source = new window.EventSource(url);
    source.onopen = () => { window.opened += 1; };
    source.onmessage = (event) => window.got.push([event.lastEventId, event.data]);
  }, `${gateway.url}/sse/polyfilled`);
  await page.waitForFunction(() => window.opened >= 1);
  const sent = [];
  for (let n = 1; n <= EVENTS; n++) {
    sent.push([(await publish(gateway.url, 'polyfilled', `event ${n}`)).id, `event ${n}`]);
    await sleep(40);
  }
  await page.waitForFunction((count) => window.got.length >= count, EVENTS, { timeout: 15_000 }).catch(() => {});
  assert.deepEqual(await page.evaluate(() => window.got), sent);
  const resumed = requests.filter((url) => url.includes('/sse/polyfilled?lastEventId='));
  assert.ok(resumed.length >= 3, `the polyfill reconnected with lastEventId ${resumed.length} times`);
});
