// job.test.mjs: a background job's progress reaches 100 % on every transport, and `finish` ends each connection for good.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, launchChromium, cometPage, subscribe, waitForOpen, waitForCount, sleep, TRANSPORTS } from './harness.mjs';

test('job progress then finish arrive on every transport, and after finish no transport makes another request', async (t) => {
  const gateway = await startGateway(t, ['--heartbeat', '1s', '--poll-timeout', '2s']);
  const page = await cometPage(await launchChromium(t), gateway);
  const channel = 'job-browser';
  const requests = [];
  page.on('request', (req) => { if (req.url().includes(channel)) requests.push({ at: Date.now(), url: req.url() }); });
  for (const transport of TRANSPORTS) {
    await subscribe(page, transport, channel, { transport, events: ['progress', 'finish'], closeOn: 'finish' });
    await waitForOpen(page, transport);
  }
  const res = await fetch(`${gateway.url}/demo/jobs?steps=10&pace_ms=40&channel=${channel}`, { method: 'POST' });
  assert.equal(res.status, 202);
  const job = await res.json();
  assert.deepEqual({ ...job, job: 'n' }, { job: 'n', channel, steps: 10, pace_ms: 40 });

  for (const transport of TRANSPORTS) {
    const got = await waitForCount(page, transport, 11);
    assert.deepEqual(got.map((e) => e.event), [...Array(10).fill('progress'), 'finish'], transport);
    const data = got.map((e) => JSON.parse(e.data));
    assert.deepEqual(data.slice(0, 10).map((d) => d.step), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], transport);
    assert.deepEqual(data.slice(0, 10).map((d) => d.message), data.slice(0, 10).map((d) => `step ${d.step} of 10`));
    assert.equal(data[9].percent, 100);
    assert.deepEqual(data[10], { job: job.job, percent: 100, message: 'done' });
    const statuses = await page.evaluate((k) => window.statuses[k], transport);
    assert.equal(statuses.at(-1), `closed:${transport}`, `${transport} closed itself on finish`);
  }
  const finishedAt = Date.now();
  await sleep(4000);
  const late = requests.filter((r) => r.at > finishedAt);
  assert.deepEqual(late, [], 'no request after finish');
  const subscribers = await (await fetch(`${gateway.url}/channels/${channel}`)).json();
  assert.equal(subscribers.subscribers, 0, 'the gateway holds no connection for the finished job');
});
