// token.test.mjs: with subscriber tokens required, comet.js passes its token on every transport, and a stream ended by
// an expiring token resumes with a fresh one, losing and repeating nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { BIN, startGateway, launchChromium, publish, cometPage, subscribe, waitForOpen, waitForCount, sleep, LADDER as TRANSPORTS } from './harness.mjs';

const SECRET = 'browser-test-secret-of-at-least-32-bytes';
const mint = (channel, ttl) => execFileSync(BIN, ['--subscribe-secret', SECRET, 'token', '--channel', channel, '--ttl', ttl]).toString().trim();

test('every transport subscribes with a token and renews it when its stream ends at expiry', async (t) => {
  const gateway = await startGateway(t, ['--subscribe-secret', SECRET, '--heartbeat', '1s', '--poll-timeout', '1s']);
  const page = await cometPage(await launchChromium(t), gateway);
  const channel = 'private.news';
  const tokens = { first: mint('private.*', '2s'), fresh: mint('private.*', '10m') };
  await page.evaluate((tokens) => {
    window.issued = {};
    window.tokenFor = (key) => () => {
      window.issued[key] = (window.issued[key] || 0) + 1;
      return window.issued[key] === 1 ? tokens.first : tokens.fresh;
    };
  }, tokens);
  for (const transport of TRANSPORTS) {
    await page.evaluate(({ transport, channel }) => {
      window.received[transport] = []; window.gaps[transport] = []; window.statuses[transport] = [];
      window.handles[transport] = window.Comet.subscribe(channel, {
        transport, minDelay: 100, token: window.tokenFor(transport),
        onEvent: (ev) => window.received[transport].push({ id: ev.id, data: ev.data }),
        onStatus: (status, info) => window.statuses[transport].push(`${status}:${info.transport}`),
      });
    }, { transport, channel });
    await waitForOpen(page, transport);
  }
  const ids = [];
  for (let i = 0; i < 8; i++) {
    ids.push((await publish(gateway.url, channel, `private ${i}`)).id);
    await sleep(500);
  }
  for (const transport of TRANSPORTS) {
    const got = await waitForCount(page, transport, ids.length);
    assert.deepEqual(got.map((e) => e.id), ids, `${transport}: every event once, in order, across the renewal`);
    const issued = await page.evaluate((k) => window.issued[k], transport);
    assert.ok(issued >= 2, `${transport}: asked for a fresh token after the first expired (${issued})`);
  }
});

test('without a valid token a subscription receives nothing and keeps retrying', async (t) => {
  const gateway = await startGateway(t, ['--subscribe-secret', SECRET]);
  const page = await cometPage(await launchChromium(t), gateway);
  const wrongChannel = mint('elsewhere', '10m');
  for (const transport of TRANSPORTS) {
    await subscribe(page, transport, 'private.news', { transport, token: wrongChannel, minDelay: 100, openTimeout: 1000 });
  }
  await publish(gateway.url, 'private.news', 'secret');
  await sleep(2000);
  for (const transport of TRANSPORTS) {
    assert.deepEqual(await page.evaluate((k) => window.received[k], transport), [], `${transport} received a private event`);
    const statuses = await page.evaluate((k) => window.statuses[k], transport);
    assert.ok(!statuses.some((s) => s.startsWith('open:')), `${transport} opened: ${statuses}`);
  }
});
