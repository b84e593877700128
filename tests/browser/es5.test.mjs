// es5.test.mjs: comet.js (its parts, and joined) and the demo page's script parse as ES5, so they load in old browsers without a build step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'acorn';
import { REPO } from './harness.mjs';

// The parts the gateway joins into /static/comet.js, in its order (src/demo/mod.rs).
const PARTS = ['core', 'link', 'transports', 'ladder', 'connection', 'shared'].map((part) => `static/comet/${part}.js`);

for (const file of [...PARTS, 'static/demo.js']) {
  test(`${file} parses as ES5`, () => {
    const source = readFileSync(path.join(REPO, file), 'utf8');
    assert.doesNotThrow(() => parse(source, { ecmaVersion: 5, sourceType: 'script' }));
  });
}

test('the joined client parses as ES5 and names each part once', () => {
  const joined = PARTS.map((file) => readFileSync(path.join(REPO, file), 'utf8')).join('\n');
  assert.doesNotThrow(() => parse(joined, { ecmaVersion: 5, sourceType: 'script' }));
  PARTS.forEach((file, i) => assert.match(joined, new RegExp(`comet\\.js part ${i + 1} of ${PARTS.length}`), file));
});

test('an ES5 parse rejects later syntax, so the check above means something', () => {
  for (const later of ['let a = 1;', 'var f = () => 1;', 'class A {}', 'var s = `x`;', 'var {a} = b;']) {
    assert.throws(() => parse(later, { ecmaVersion: 5 }), SyntaxError, later);
  }
});
