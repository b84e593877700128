// iframe.test.mjs: the hidden-iframe transport waits for the page's load event and keeps several subscriptions apart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, launchChromium, publish, cometPage, subscribe, waitForOpen, waitForCount } from './harness.mjs';

test('the iframe is added only after the page has loaded, so the page never shows a spinner', async (t) => {
  const gateway = await startGateway(t);
  const page = await (await launchChromium(t)).newPage();
  const pageUrl = `${gateway.url}/__test__/slow`;
  let releaseImage;
  const imageHeld = new Promise((resolve) => { releaseImage = resolve; });
  await page.route(pageUrl, (route) => route.fulfill({
    contentType: 'text/html; charset=utf-8',
    body: `<!doctype html><body><script src="/static/comet.js"></script>
      <script>window.got = []; Comet.subscribe('slow-load', { transport: 'iframe', onEvent: function (ev) { window.got.push(ev.data); } });</script>
      <img src="/__test__/slow.png">`,
  }));
  await page.route(`${gateway.url}/__test__/slow.png`, async (route) => { await imageHeld; route.fulfill({ status: 404, body: '' }); });
  await page.goto(pageUrl, { waitUntil: 'domcontentloaded' });
  await page.waitForTimeout(500);
  assert.equal(await page.evaluate(() => document.readyState), 'interactive');
  assert.equal(await page.evaluate(() => document.querySelectorAll('iframe').length), 0, 'no iframe before load');
  releaseImage();
  await page.waitForFunction(() => document.readyState === 'complete' && document.querySelectorAll('iframe').length === 1);
  await page.waitForTimeout(300);
  const sent = await publish(gateway.url, 'slow-load', 'after load');
  await page.waitForFunction(() => window.got.length === 1);
  assert.deepEqual(await page.evaluate(() => window.got), ['after load']);
  assert.ok(sent.subscribers >= 1);
});

test('several iframe subscriptions on one page each get their own callback object and only their own events', async (t) => {
  const gateway = await startGateway(t);
  const page = await cometPage(await launchChromium(t), gateway);
  for (const key of ['a', 'b', 'c']) {
    await subscribe(page, key, `iframe-${key}`, { transport: 'iframe' });
    await waitForOpen(page, key);
  }
  const callbacks = await page.evaluate(() => [...document.querySelectorAll('iframe')].map((f) => new URL(f.src).searchParams.get('callback')));
  assert.equal(new Set(callbacks).size, 3, `distinct callbacks: ${callbacks}`);
  for (const key of ['c', 'a', 'b', 'a']) await publish(gateway.url, `iframe-${key}`, `for ${key}`);
  assert.deepEqual((await waitForCount(page, 'a', 2)).map((e) => e.data), ['for a', 'for a']);
  assert.deepEqual((await waitForCount(page, 'b', 1)).map((e) => e.data), ['for b']);
  assert.deepEqual((await waitForCount(page, 'c', 1)).map((e) => e.data), ['for c']);
  await page.evaluate(() => window.handles.b.close());
  assert.equal(await page.evaluate(() => document.querySelectorAll('iframe').length), 2, 'close removes its iframe');
});
