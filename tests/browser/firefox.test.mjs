// firefox.test.mjs: the same client in Debian's Firefox ESR, driven over WebDriver BiDi: each transport (the WebSocket and
// JSONP too) makes a round trip, and auto picks the WebSocket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, launchFirefox, publish, TRANSPORTS } from './harness.mjs';

const PAYLOADS = ['plain', 'two\nlines', 'unicode ✓ 日本語 😀 \u2028 </script>'];

test('Firefox ESR receives events in order on every transport, and auto picks the WebSocket', async (t) => {
  const gateway = await startGateway(t, ['--heartbeat', '1s']);
  const browser = await launchFirefox(t);
  const page = await browser.newPage();
  const pageUrl = `${gateway.url}/__test__/firefox`;
  await page.setRequestInterception(true);
  const serveTestPage = (req) => {
    if (req.url() !== pageUrl) { req.continue(); return; }
    req.respond({ status: 200, contentType: 'text/html; charset=utf-8', body: '<!doctype html><meta charset="utf-8"><body><script src="/static/comet.js"></script>' });
  };
  page.on('request', serveTestPage);
  await page.goto(pageUrl);
  page.off('request', serveTestPage);
  await page.setRequestInterception(false);
  await page.evaluate(() => { window.received = {}; window.handles = {}; });

  for (const transport of ['auto', 'ws', ...TRANSPORTS, 'jsonp']) {
    await t.test(transport, async () => {
      const channel = `firefox-${transport}`;
      const picked = await page.evaluate((channel, transport) => {
        window.received[transport] = [];
        window.handles[transport] = window.Comet.subscribe(channel, {
          transport, onEvent: (ev) => window.received[transport].push([ev.id, ev.data]),
          onStatus: (state) => { if (state === 'open') window.received[transport].opened = true; },
        });
        return window.handles[transport].transport;
      }, channel, transport);
      assert.equal(picked, transport === 'auto' ? 'ws' : transport);
      await page.waitForFunction((k) => window.received[k].opened, { timeout: 10_000 }, transport);
      const sent = [];
      for (const data of PAYLOADS) sent.push([(await publish(gateway.url, channel, data)).id, data]);
      await page.waitForFunction((k, n) => window.received[k].length >= n, { timeout: 10_000 }, transport, sent.length);
      assert.deepEqual(await page.evaluate((k) => window.received[k].slice(), transport), sent);
      await page.evaluate((k) => window.handles[k].close(), transport);
    });
  }
});
