// crossorigin.test.mjs: a page on one origin follows a gateway on another with the hidden iframe, whose scripts post
// each call to the page's origin: every payload arrives once and unchanged, nothing runs, and forged messages are ignored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { startGateway, launchChromium, publish, waitForOpen, waitForCount } from './harness.mjs';

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
