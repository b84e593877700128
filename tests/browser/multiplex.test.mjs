// multiplex.test.mjs: Comet.connect carries many channels on one held request on every transport; subscriptions added
// or closed in one tick re-open it once, kept channels lose and repeat nothing, and a new channel starts when added.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, launchChromium, publish, cometPage, heldRequests, sleep, TRANSPORTS } from './harness.mjs';

// Opens window.conn on `transport` with helpers: window.follow(name, options) subscribes, window.got[name] collects
// "<channel> <data>" of each event, window.ids[name] its ids.
async function connect(page, transport) {
  await page.evaluate((transport) => {
    window.got = {}; window.ids = {}; window.subs = {};
    window.conn = window.Comet.connect({ transport, minDelay: 100 });
    window.follow = (name, options) => {
      window.got[name] = []; window.ids[name] = [];
      window.subs[name] = window.conn.subscribe(name, Object.assign({
        onEvent: (ev) => { window.got[name].push(`${ev.channel} ${ev.data}`); window.ids[name].push(ev.id); },
      }, options));
    };
  }, transport);
}

test('one held request carries every channel, re-opened once per tick of changes, with nothing lost or repeated', async (t) => {
  const gateway = await startGateway(t, ['--heartbeat', '1s', '--poll-timeout', '2s']);
  const browser = await launchChromium(t);
  for (const transport of TRANSPORTS) {
    await t.test(transport, async () => {
      const page = await cometPage(browser, gateway);
      const held = heldRequests(page, transport);
      const [a, b, c, d, e] = ['a', 'b', 'c', 'd', 'e'].map((n) => `mux-${transport}-${n}`);
      await connect(page, transport);
      await page.evaluate((names) => names.forEach((n) => window.follow(n)), [a, b, c, d]);
      await page.waitForFunction(() => window.conn.state === 'open' && Object.values(window.subs).every((s) => s.state === 'live'));
      assert.deepEqual(held.lists(), [[a, b, c, d].join()], 'one request for the four channels');

      await publish(gateway.url, e, 'before e was added');
      const kept = [];
      const writer = (async () => {
        for (let i = 0; i < 30; i++) { kept.push((await publish(gateway.url, a, `kept ${i}`)).id); await sleep(15); }
      })();
      await sleep(120);
      await page.evaluate(({ b, e }) => { window.follow(e); window.subs[b].close(); }, { b, e });
      await page.waitForFunction((e) => window.subs[e].state === 'live', e);
      await publish(gateway.url, b, 'after b was closed');
      const late = await Promise.all([c, d, e].map((n) => publish(gateway.url, n, `late on ${n}`)));
      await writer;
      await page.waitForFunction(({ a, e, n }) => window.got[a].length >= n && window.got[e].length >= 1, { a, e, n: kept.length }, { timeout: 15_000 });
      await sleep(300);
      const got = await page.evaluate(() => ({ got: window.got, ids: window.ids }));
      assert.deepEqual(got.ids[a], kept, 'the kept channel: every event once, in order, across the re-open');
      assert.deepEqual(got.got[a], kept.map((_, i) => `${a} kept ${i}`));
      assert.deepEqual(got.got[b], [], 'the closed channel gets nothing more');
      assert.deepEqual(got.got[c], [`${c} late on ${c}`]);
      assert.deepEqual(got.got[d], [`${d} late on ${d}`]);
      assert.deepEqual(got.got[e], [`${e} late on ${e}`], 'the added channel starts when it was added');
      assert.deepEqual(got.ids[e], [late[2].id]);
      assert.deepEqual(held.lists(), [[a, b, c, d].join(), [a, c, d, e].join()], 'one re-open for both changes');
      if (transport !== 'poll') assert.equal(held.count(), 2, `${transport}: two held requests in all`);
      assert.deepEqual(await page.evaluate(() => [window.conn.held(), window.conn.channels().sort()]), [1, [a, c, d, e].sort()]);
      await page.close();
    });
  }
});

test('a subscription added with its own cursor gets its channel from there, and the others repeat nothing', async (t) => {
  const gateway = await startGateway(t, ['--heartbeat', '1s']);
  const page = await cometPage(await launchChromium(t), gateway);
  await connect(page, 'stream');
  await page.evaluate(() => window.follow('own-live'));
  await page.waitForFunction(() => window.subs['own-live'].state === 'live');
  // The live channel's event falls between the past ones, so stepping back to the first of them sends it again.
  const history = [(await publish(gateway.url, 'own-past', 'past 0')).id];
  const live = (await publish(gateway.url, 'own-live', 'live 1')).id;
  for (let i = 1; i < 3; i++) history.push((await publish(gateway.url, 'own-past', `past ${i}`)).id);
  await page.waitForFunction(() => window.got['own-live'].length === 1);
  await page.evaluate((cursor) => window.follow('own-past', { cursor }), history[0]);
  await page.waitForFunction(() => window.got['own-past'].length >= 2);
  const next = (await publish(gateway.url, 'own-live', 'live 2')).id;
  await page.waitForFunction(() => window.got['own-live'].length >= 2);
  await sleep(200);
  const ids = await page.evaluate(() => window.ids);
  assert.deepEqual(ids['own-past'], history.slice(1), 'from its cursor on');
  assert.deepEqual(ids['own-live'], [live, next], 'the live channel repeats nothing when the connection steps back');
});
