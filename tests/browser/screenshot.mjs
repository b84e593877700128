// screenshot.mjs: renders the demo page after a few events into docs/screenshot.png (run: node screenshot.mjs; not a test).
import path from 'node:path';
import { startGateway, launchChromium, publish, sleep, REPO } from './harness.mjs';

const gateway = await startGateway();
const browser = await launchChromium();
try {
  const shots = [['screenshot.png', { width: 1440, height: 900 }], [process.env.PHONE_SHOT, { width: 390, height: 844 }]];
  const page = await browser.newPage({ viewport: shots[0][1] });
  await page.goto(`${gateway.url}/`);
  await page.waitForFunction(() => [...document.querySelectorAll('.pane')].every((p) => p.getAttribute('data-status') === 'open'));
  await publish(gateway.url, 'demo', 'Hello from the publish API ✓');
  await page.fill('#steps', '12');
  await page.fill('#pace', '60');
  await page.click('#job button[type=submit]');
  for (const text of ['A new post: the gateway reaches every browser.', 'Multi-line\ntext stays\nmulti-line.', '<img src=x onerror=alert(1)> shows as text']) {
    await sleep(300);
    await page.fill('#message', text);
    await page.click('#publish button[type=submit]');
  }
  await page.waitForFunction(() => [...document.querySelectorAll('.job')].every((j) => j.getAttribute('data-state') === 'done'));
  await sleep(800);
  await page.screenshot({ path: path.join(REPO, 'docs', shots[0][0]), fullPage: true });
  if (shots[1][0]) {
    await page.setViewportSize(shots[1][1]);
    await page.screenshot({ path: shots[1][0], fullPage: true });
  }
} finally {
  await browser.close();
  await gateway.stop();
}
