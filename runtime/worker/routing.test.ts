import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ownerOf, rendezvousScore } from './routing.ts';

describe('rendezvous routing', () => {
  it('the owner is the index with the highest score, whatever the order of the indexes; none without indexes', () => {
    for (const key of ['demo/hello@0123456789abcdef0123', 'a/b@c', '']) {
      const best = [0, 1, 2].reduce((a, b) => (rendezvousScore(key, b) > rendezvousScore(key, a) ? b : a));
      assert.equal(ownerOf(key, [0, 1, 2]), best);
      assert.equal(ownerOf(key, [2, 0, 1]), best);
    }
    assert.equal(ownerOf('a/b@c', []), -1);
  });

  it('spreads versions over the workers, and removing a worker moves only the versions it owned', () => {
    const keys = Array.from({ length: 2000 }, (_, i) => `app/fn-${i}@v${i}`);
    const owners = keys.map((k) => ownerOf(k, [0, 1, 2]));
    for (const w of [0, 1, 2]) {
      const share = owners.filter((o) => o === w).length / keys.length;
      assert.ok(share > 0.25 && share < 0.42, `worker ${w} owns ${share}`);
    }
    keys.forEach((k, i) => {
      if (owners[i] !== 2) assert.equal(ownerOf(k, [0, 1]), owners[i], k);
    });
  });
});
