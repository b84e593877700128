// transports.test.mjs: each transport hands tricky payloads, named events, cursors and gaps to a real page unchanged and in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, launchChromium, publish, cometPage, subscribe, waitForOpen, waitForCount, LADDER as TRANSPORTS } from './harness.mjs';

const big = (() => {
  let text = '';
  while (Buffer.byteLength(text) < 60 * 1024 - 100) text += 'sixty KiB: abcdéfgh ✓ 😀\n';
  return text + 'x'.repeat(60 * 1024 - Buffer.byteLength(text));
})();
const PAYLOADS = [
  ['message', 'plain text'],
  ['message', 'line one\nline two\n\nline four'],
  ['message', 'crlf\r\nand lone\rcr'],
  ['message', 'ends with a newline\n'],
  ['message', '  leading spaces and trailing  '],
  ['message', 'data: looks like a field\nid: 7\nevent: x'],
  ['message', 'unicode: héllo wörld ✓ 日本語 😀 👩‍👩‍👧'],
  ['message', 'separators: a\u2028b\u2029c'],
  ['message', '</script><script>top.__xss = 1</script>'],
  ['message', '<!-- not a comment --> <img src=x onerror="top.__xss = 1"> \\u003c/script>'],
  ['message', ''],
  ['message', '{"json": "inside", "n": 1}'],
  ['message', 'nul:\u0000:byte'],
  ['progress', '{"percent": 50}'],
  ['status', 'named status'],
  ['ignored', 'a type the page did not ask for'],
  ['message', big],
  ['finish', 'last'],
];
// The SSE line format cannot carry CR: a CR or CRLF inside data reaches an EventSource as LF (docs/PROTOCOL.md).
const asSeenBy = (transport, data) => (transport === 'sse' ? data.replace(/\r\n?/g, '\n') : data);

test('every transport delivers tricky payloads and named events unchanged, in order, exactly once', async (t) => {
  const gateway = await startGateway(t, ['--heartbeat', '1s']);
  const browser = await launchChromium(t);
  for (const transport of TRANSPORTS) {
    await t.test(transport, async () => {
      const page = await cometPage(browser, gateway);
      const channel = `payloads-${transport}`;
      assert.equal(await subscribe(page, 'k', channel, { transport, events: ['progress', 'status', 'finish'] }), transport);
      await waitForOpen(page, 'k');
      const published = [];
      for (const [event, data] of PAYLOADS) {
        published.push({ ...(await publish(gateway.url, channel, data, event)), event, data });
      }
      const wanted = published.filter((p) => p.event !== 'ignored');
      const got = await waitForCount(page, 'k', wanted.length);
      await page.waitForTimeout(300);
      const final = await page.evaluate(() => window.received.k);
      assert.equal(final.length, wanted.length, 'no extra or duplicate events');
      for (let i = 0; i < wanted.length; i++) {
        assert.equal(got[i].id, wanted[i].id, `id of event ${i}`);
        assert.equal(got[i].event, wanted[i].event, `type of event ${i}`);
        assert.equal(got[i].data, asSeenBy(transport, wanted[i].data), `data of event ${i}`);
        if (transport !== 'sse') assert.equal(typeof got[i].time, 'number', `time of event ${i}`);
      }
      for (const frame of page.frames()) {
        assert.equal(await frame.evaluate(() => window.__xss), undefined, `no payload ran as script in ${frame.url()}`);
      }
      const handle = await page.evaluate(() => ({ cursor: window.handles.k.cursor, stats: window.handles.k.stats }));
      assert.equal(handle.cursor, published.at(-1).id);
      assert.equal(handle.stats.events, wanted.length);
      assert.ok(handle.stats.bytes > big.length, `bytes counted: ${handle.stats.bytes}`);
      await page.close();
    });
  }
});

test('every transport resumes from a cursor and signals a gap for a lost one', async (t) => {
  const gateway = await startGateway(t, ['--backlog-size', '5']);
  const browser = await launchChromium(t);
  for (const transport of TRANSPORTS) {
    await t.test(transport, async () => {
      const channel = `cursor-${transport}`;
      const ids = [];
      for (let i = 0; i < 9; i++) ids.push((await publish(gateway.url, channel, `event ${i}`)).id);
      const page = await cometPage(browser, gateway);

      await subscribe(page, 'resume', channel, { transport, cursor: ids[6] });
      const resumed = await waitForCount(page, 'resume', 2);
      assert.deepEqual(resumed.map((e) => e.data), ['event 7', 'event 8']);

      await subscribe(page, 'lost', channel, { transport, cursor: ids[0] });
      const backlog = await waitForCount(page, 'lost', 5);
      assert.deepEqual(backlog.map((e) => e.id), ids.slice(4));
      assert.deepEqual(await page.evaluate(() => window.gaps.lost), [{ oldest: ids[4] }]);

      await subscribe(page, 'earliest', channel, { transport, cursor: 'earliest' });
      assert.deepEqual((await waitForCount(page, 'earliest', 5)).map((e) => e.id), ids.slice(4));

      await subscribe(page, 'live', channel, { transport });
      await waitForOpen(page, 'live');
      const live = await publish(gateway.url, channel, 'event 9');
      assert.deepEqual((await waitForCount(page, 'live', 1)).map((e) => e.id), [live.id]);
      await page.waitForTimeout(300);
      for (const key of ['resume', 'lost', 'earliest', 'live']) {
        const got = await page.evaluate((key) => window.received[key].map((e) => e.id), key);
        assert.equal(new Set(got).size, got.length, `${key}: no duplicates`);
        assert.equal(got.at(-1), live.id, `${key}: live event arrives after the backlog`);
      }
      assert.deepEqual(await page.evaluate(() => window.gaps.resume.concat(window.gaps.earliest, window.gaps.live)), []);
      await page.close();
    });
  }
});
