// shared.test.mjs: `shared: true` gives every tab of an origin one connection per transport: 3 tabs x 20 channels hold
// one request per transport in the whole browser, every publish reaches every tab once, and when the holding tab
// closes another takes over from the shared cursor with nothing lost or repeated.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, launchChromium, launchFirefox, publish, cometPage, heldRequests, sleep, TRANSPORTS } from './harness.mjs';

const CHANNELS = Array.from({ length: 20 }, (_, i) => `shared-${i}`);

// Run in a tab: a shared connection per transport, each following the channels; window.got[transport] collects
// "<channel> <id>" of every event.
function followAll({ transports, channels }) {
  window.got = {}; window.conns = {}; window.subs = [];
  for (const transport of transports) {
    window.got[transport] = [];
    window.conns[transport] = window.Comet.connect({ transport, shared: true, minDelay: 100 });
    for (const channel of channels) {
      window.subs.push(window.conns[transport].subscribe(channel, { onEvent: (ev) => window.got[transport].push(`${ev.channel} ${ev.id}`) }));
    }
  }
}

async function openTab(context, gateway) {
  const page = await cometPage(context, gateway);
  await page.evaluate(followAll, { transports: TRANSPORTS, channels: CHANNELS });
  await page.waitForFunction(() => window.subs.every((s) => s.state === 'live'), null, { timeout: 15_000 });
  return page;
}

async function publishRound(gateway, label) {
  const sent = [];
  for (const channel of CHANNELS) sent.push(`${channel} ${(await publish(gateway.url, channel, label)).id}`);
  return sent;
}

async function received(page, count) {
  try {
    await page.waitForFunction((n) => Object.values(window.got).every((list) => list.length >= n), count, { timeout: 15_000 });
  } catch (err) {
    const state = await page.evaluate(() => Object.entries(window.conns).map(([t, c]) => `${t}: ${window.got[t].length} events, ${c.role}, ${c.state}`));
    throw new Error(`${count} events expected in every list: ${state.join('; ')}`);
  }
  await sleep(300);
  return page.evaluate(() => window.got);
}

test('3 tabs x 20 channels: one held request per transport for the browser, each publish once in every tab, and a takeover loses nothing', async (t) => {
  const gateway = await startGateway(t, ['--heartbeat', '1s', '--poll-timeout', '2s']);
  const context = await (await launchChromium(t)).newContext();
  const held = Object.fromEntries(TRANSPORTS.map((transport) => [transport, heldRequests(context, transport)]));
  const tabs = [];
  for (let i = 0; i < 3; i++) tabs.push(await openTab(context, gateway));
  const roles = await Promise.all(tabs.map((tab) => tab.evaluate(() => Object.values(window.conns).map((c) => c.role).join())));
  assert.deepEqual(roles, ['leader,leader,leader,leader', ...Array(2).fill('follower,follower,follower,follower')]);

  const first = await publishRound(gateway, 'first round');
  for (const tab of tabs) {
    const got = await received(tab, first.length);
    for (const transport of TRANSPORTS) assert.deepEqual(got[transport], first, `${transport}: every publish once, in order`);
  }
  for (const transport of TRANSPORTS) {
    assert.deepEqual(held[transport].pages(), [tabs[0]], `${transport}: only the holding tab asks the gateway`);
    assert.deepEqual(held[transport].lists(), [CHANNELS.join()], `${transport}: one list of the 20 channels`);
    // A poll's next request starts before the browser reports the last one finished: the gateway's count below is its check.
    if (transport !== 'poll') assert.equal(held[transport].count(), 1, `${transport}: one held request in all`);
  }
  for (const channel of [CHANNELS[0], CHANNELS[19]]) {
    const info = await (await fetch(`${gateway.url}/channels/${channel}`)).json();
    assert.equal(info.subscribers, TRANSPORTS.length, `${channel}: the gateway holds one connection per transport for three tabs`);
  }

  await tabs[0].close();
  const second = await publishRound(gateway, 'while the holder is gone');
  const rest = tabs.slice(1);
  for (const tab of rest) {
    const got = await received(tab, first.length + second.length);
    for (const transport of TRANSPORTS) {
      assert.deepEqual(got[transport], first.concat(second), `${transport}: nothing lost or repeated across the takeover`);
    }
  }
  const after = await Promise.all(rest.map((tab) => tab.evaluate(() => Object.values(window.conns).map((c) => c.role))));
  for (let i = 0; i < TRANSPORTS.length; i++) {
    assert.deepEqual(after.map((r) => r[i]).sort(), ['follower', 'leader'], `${TRANSPORTS[i]}: one tab took over`);
  }
  for (const transport of TRANSPORTS) {
    if (transport === 'poll') continue;
    assert.equal(held[transport].most(), 1, `${transport}: one held request at a time`);
    assert.equal(held[transport].count(), 2, `${transport}: one more held request, by the new holder`);
  }
});

// Firefox ESR (puppeteer over WebDriver BiDi): a tab serving the blank test page, with comet.js from the gateway.
async function firefoxTab(browser, gateway, requests) {
  const page = await browser.newPage();
  const pageUrl = `${gateway.url}/__test__/shared`;
  await page.setRequestInterception(true);
  page.on('request', (req) => {
    if (req.url() !== pageUrl) { req.continue(); return; }
    req.respond({ status: 200, contentType: 'text/html; charset=utf-8', body: '<!doctype html><meta charset="utf-8"><body><script src="/static/comet.js"></script>' });
  });
  page.on('request', (req) => {
    const url = new URL(req.url());
    const transport = url.pathname.split('/')[1];
    if (TRANSPORTS.includes(transport) && url.searchParams.get('timeout') !== '0') requests.push({ transport, page });
  });
  await page.goto(pageUrl);
  await page.evaluate(followAll, { transports: TRANSPORTS, channels: CHANNELS });
  await page.waitForFunction(() => window.subs.every((s) => s.state === 'live'), { timeout: 15_000 });
  return page;
}

test('Firefox ESR: 3 tabs x 20 channels share one connection per transport, each publish reaches every tab once, and a takeover loses nothing', async (t) => {
  const gateway = await startGateway(t, ['--heartbeat', '1s', '--poll-timeout', '2s']);
  const browser = await launchFirefox(t);
  const requests = [];
  const tabs = [];
  for (let i = 0; i < 3; i++) tabs.push(await firefoxTab(browser, gateway, requests));
  const sent = await publishRound(gateway, 'to every tab');
  for (const tab of tabs) {
    await tab.waitForFunction((n) => Object.values(window.got).every((list) => list.length >= n), { timeout: 15_000 }, sent.length);
    await sleep(300);
    const got = await tab.evaluate(() => window.got);
    for (const transport of TRANSPORTS) assert.deepEqual(got[transport], sent, `${transport}: every publish once, in order`);
  }
  for (const transport of TRANSPORTS) {
    const made = requests.filter((r) => r.transport === transport);
    assert.deepEqual([...new Set(made.map((r) => r.page))], [tabs[0]], `${transport}: only the holding tab asks the gateway`);
    if (transport !== 'poll') assert.equal(made.length, 1, `${transport}: one held request in all`);
  }
  const info = await (await fetch(`${gateway.url}/channels/${CHANNELS[0]}`)).json();
  assert.equal(info.subscribers, TRANSPORTS.length, 'the gateway holds one connection per transport for three tabs');

  await tabs[0].close();
  const more = await publishRound(gateway, 'after the holder closed');
  for (const tab of tabs.slice(1)) {
    await tab.waitForFunction((n) => Object.values(window.got).every((list) => list.length >= n), { timeout: 15_000 }, sent.length + more.length);
    await sleep(300);
    const got = await tab.evaluate(() => window.got);
    for (const transport of TRANSPORTS) assert.deepEqual(got[transport], sent.concat(more), `${transport}: nothing lost or repeated across the takeover`);
  }
});
