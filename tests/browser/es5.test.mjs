// es5.test.mjs: comet.js and the demo page's scripts parse as ES5, so they load in old browsers without a build step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'acorn';
import { REPO } from './harness.mjs';

for (const file of ['static/comet.js', 'static/relay.js', 'static/demo.js']) {
  test(`${file} parses as ES5`, () => {
    const source = readFileSync(path.join(REPO, file), 'utf8');
    assert.doesNotThrow(() => parse(source, { ecmaVersion: 5, sourceType: 'script' }));
  });
}

test('an ES5 parse rejects later syntax, so the check above means something', () => {
  for (const later of ['let a = 1;', 'var f = () => 1;', 'class A {}', 'var s = `x`;', 'var {a} = b;']) {
    assert.throws(() => parse(later, { ecmaVersion: 5 }), SyntaxError, later);
  }
});
