// internal.test.mjs: with the publish API and channel figures on an internal listener (--internal-bind), comet.js still
// subscribes on every transport from the public one: nothing it needs lives on the internal side.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { startGateway, launchChromium, publish, cometPage, subscribe, waitForOpen, waitForCount, TRANSPORTS } from './harness.mjs';

// A free loopback port for the internal listener (the harness reads only the public address).
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => { const { port } = server.address(); server.close(() => resolve(port)); });
    server.on('error', reject);
  });
}

test('every transport subscribes from the public listener while publishing is internal', async (t) => {
  const port = await freePort();
  const gateway = await startGateway(t, ['--internal-bind', `127.0.0.1:${port}`]);
  const internal = `http://127.0.0.1:${port}`;
  const page = await cometPage(await launchChromium(t), gateway);
  for (const transport of TRANSPORTS) {
    const channel = `split-${transport}`;
    assert.equal(await subscribe(page, transport, channel, { transport }), transport);
    await waitForOpen(page, transport);
    const sent = await publish(internal, channel, `published internally to ${transport}`);
    const got = await waitForCount(page, transport, 1);
    assert.deepEqual(got.map((e) => [e.id, e.data]), [[sent.id, `published internally to ${transport}`]]);
  }
  const figures = await fetch(`${gateway.url}/channels/split-sse`);
  assert.equal(figures.status, 404, 'the figures are not on the public listener');
});
