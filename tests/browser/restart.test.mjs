// restart.test.mjs: when the gateway goes away and comes back, every transport backs off, reconnects and reports the gap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, launchChromium, publish, cometPage, subscribe, waitForOpen, waitForCount, sleep, LADDER as TRANSPORTS } from './harness.mjs';

test('after a gateway restart each transport reconnects with backoff, signals a gap, and receives new events once', async (t) => {
  const before = await startGateway(t, ['--heartbeat', '1s']);
  const page = await cometPage(await launchChromium(t), before);
  for (const transport of TRANSPORTS) {
    await subscribe(page, transport, 'restart', { transport, minDelay: 500, watchdog: 2000 });
    await waitForOpen(page, transport);
  }
  const first = await publish(before.url, 'restart', 'before the restart');
  for (const transport of TRANSPORTS) await waitForCount(page, transport, 1);

  await before.stop();
  const down = await page.evaluate((all) => Object.fromEntries(all.map((k) => [k, window.handles[k].stats.requests])), TRANSPORTS);
  await sleep(4000);
  const after = await startGateway(t, ['--heartbeat', '1s'], { bind: new URL(before.url).host });
  for (const transport of TRANSPORTS) {
    const tries = (await page.evaluate((k) => window.handles[k].stats.requests, transport)) - down[transport];
    assert.ok(tries >= 1 && tries <= 6, `${transport}: ${tries} attempts in 4 s down, backing off`);
  }
  await page.waitForFunction((all) => all.every((k) => window.gaps[k].length > 0), TRANSPORTS, { timeout: 20_000 });
  const second = await publish(after.url, 'restart', 'after the restart');
  for (const transport of TRANSPORTS) {
    const got = await waitForCount(page, transport, 2);
    assert.deepEqual(got.map((e) => [e.id, e.data]), [[first.id, 'before the restart'], [second.id, 'after the restart']], transport);
    assert.equal((await page.evaluate((k) => window.gaps[k], transport)).length, 1, `${transport}: one gap`);
  }
});
