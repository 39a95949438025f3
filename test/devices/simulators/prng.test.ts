import { describe, expect, it } from 'vitest';
import { Rng, seedWords, sfc32 } from '../../../devices/simulators/prng.js';

const draw = (rng: Rng, n = 50) => Array.from({ length: n }, () => rng.float());

describe('Rng', () => {
  it('gives the same stream for the same seed and another for another seed', () => {
    expect(draw(new Rng('anxin'))).toEqual(draw(new Rng('anxin')));
    expect(draw(new Rng('anxin'))).not.toEqual(draw(new Rng('anxin2')));
  });

  it('is pinned: a change to the generator would silently change every demo district', () => {
    const rng = new Rng('anxin');
    expect([rng.int(0, 1_000_000), rng.int(0, 1_000_000), rng.int(0, 1_000_000)]).toEqual([793517, 538271, 693598]);
    expect(seedWords('anxin')).not.toEqual(seedWords('anxim'));
    const next = sfc32(1, 2, 3, 4);
    expect(Array.from({ length: 1000 }, next).every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it('forks independent named streams that do not depend on the order they are used in', () => {
    const a = new Rng('s');
    const b = new Rng('s');
    const aHome = a.fork('home/1');
    b.fork('home/2').float();
    expect(draw(aHome)).toEqual(draw(b.fork('home/1')));
    expect(draw(new Rng('s').fork('x'))).not.toEqual(draw(new Rng('s').fork('y')));
  });

  it('stays within its bounds and has the distributions it claims', () => {
    const rng = new Rng('bounds');
    const ints = Array.from({ length: 5000 }, () => rng.int(3, 7));
    expect(Math.min(...ints)).toBe(3);
    expect(Math.max(...ints)).toBe(7);
    const normals = Array.from({ length: 5000 }, () => rng.normal(140, 10));
    const mean = normals.reduce((s, x) => s + x, 0) / normals.length;
    const sd = Math.sqrt(normals.reduce((s, x) => s + (x - mean) ** 2, 0) / normals.length);
    expect(mean).toBeCloseTo(140, 0);
    expect(sd).toBeGreaterThan(9);
    expect(sd).toBeLessThan(11);
    expect(Array.from({ length: 500 }, () => rng.normal(0, 5, -1, 1)).every((x) => x >= -1 && x <= 1)).toBe(true);
    const hits = Array.from({ length: 10_000 }, () => rng.chance(0.3)).filter(Boolean).length;
    expect(hits / 10_000).toBeCloseTo(0.3, 1);
    expect(() => rng.pick([])).toThrow(RangeError);
  });
});
