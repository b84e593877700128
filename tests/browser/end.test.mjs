// end.test.mjs: channels that end. comet.js drops an ended channel from its connection with no request of its own and
// calls onEnd; a connection left with no channel makes no request again; a plain EventSource stops for good.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, launchChromium, publish, cometPage, heldRequests, sleep, TRANSPORTS } from './harness.mjs';

async function end(gateway, channel) {
  const res = await fetch(`${gateway.url}/channels/${encodeURIComponent(channel)}`, { method: 'DELETE' });
  assert.equal(res.status, 200, `DELETE /channels/${channel}`);
  return res.json();
}

test('an ended channel leaves the connection with no request, and the last one leaves nothing held', async (t) => {
  const gateway = await startGateway(t, ['--heartbeat', '1s', '--poll-timeout', '2s']);
  const browser = await launchChromium(t);
  for (const transport of TRANSPORTS) {
    await t.test(transport, async () => {
      const page = await cometPage(browser, gateway);
      const held = heldRequests(page, transport);
      const [first, second] = [`ends-${transport}-1`, `ends-${transport}-2`];
      await page.evaluate(({ transport, names }) => {
        window.got = []; window.ends = [];
        window.conn = window.Comet.connect({ transport, minDelay: 100 });
        window.subs = names.map((name) => window.conn.subscribe(name, {
          onEvent: (ev) => window.got.push(`${ev.channel} ${ev.data}`),
          onEnd: (info) => window.ends.push(info),
        }));
      }, { transport, names: [first, second] });
      await page.waitForFunction(() => window.subs.every((s) => s.state === 'live') && window.conn.state === 'open');
      await publish(gateway.url, first, 'last words');
      const ended = await end(gateway, first);
      await page.waitForFunction(() => window.ends.length === 1);
      const requestsAtEnd = held.count();
      await publish(gateway.url, second, 'still here');
      await page.waitForFunction(() => window.got.length === 2);
      assert.deepEqual(await page.evaluate(() => window.got), [`${first} last words`, `${second} still here`]);
      // A poll answer names the channels that ended, not the ids of their ends.
      const endId = (answer) => (transport === 'poll' ? null : answer.id);
      assert.deepEqual(await page.evaluate(() => window.ends), [{ channel: first, id: endId(ended) }]);
      assert.deepEqual(await page.evaluate(() => window.conn.channels()), [second], 'the ended channel left');
      if (transport !== 'poll') assert.equal(held.count(), requestsAtEnd, 'no request for the end');
      assert.equal(held.lists()[0], [first, second].join());
      if (transport === 'poll') assert.equal(held.lists().at(-1), second, 'the next poll asks for the channel left');

      const closing = await end(gateway, second);
      await page.waitForFunction(() => window.ends.length === 2);
      const quiet = held.count();
      await sleep(3000);
      assert.equal(held.count(), quiet, 'a connection left with no channel asks for nothing');
      assert.equal(held.open(), 0, 'and holds nothing');
      assert.deepEqual(await page.evaluate(() => [window.conn.held(), window.ends[1]]), [0, { channel: second, id: endId(closing) }]);
      await page.close();
    });
  }
});

test('a plain EventSource on a channel that ends gets comet-end, then stops for good', async (t) => {
  const gateway = await startGateway(t, ['--heartbeat', '1s']);
  const page = await cometPage(await launchChromium(t), gateway);
  const requests = [];
  page.on('response', (response) => { if (response.url().includes('/sse/plain-end')) requests.push({ at: Date.now(), status: response.status() }); });
  await page.evaluate(() => {
    window.heard = [];
    window.source = new EventSource('/sse/plain-end');
    window.source.onopen = () => window.heard.push('open');
    window.source.onmessage = (e) => window.heard.push(e.data);
    window.source.addEventListener('comet-end', (e) => window.heard.push(`end ${JSON.parse(e.data).channel}`));
  });
  await page.waitForFunction(() => window.heard.includes('open'));
  await publish(gateway.url, 'plain-end', 'the only event');
  await end(gateway, 'plain-end');
  await page.waitForFunction(() => window.heard.includes('end plain-end'));
  const endedAt = Date.now();
  await page.waitForFunction(() => window.source.readyState === 2, null, { timeout: 10_000 });
  await sleep(10_000 - (Date.now() - endedAt));
  const after = requests.filter((r) => r.at > endedAt);
  assert.ok(after.length <= 1, `at most the one reconnect that hears 204: ${JSON.stringify(after)}`);
  assert.ok(after.every((r) => r.status === 204), `answered 204: ${JSON.stringify(after)}`);
  assert.equal(await page.evaluate(() => window.source.readyState), 2, 'the EventSource is closed');
  assert.deepEqual(await page.evaluate(() => window.heard), ['open', 'the only event', 'end plain-end']);
});
