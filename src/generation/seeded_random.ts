/**
 * A small seeded pseudo-random generator (splitmix32 seeding a xoshiro128**), so that sampling with the
 * same `seed` picks the same tokens run to run and machine to machine — `Math.random` cannot be seeded.
 *
 * @module
 */

/** Uniform numbers in [0, 1), reproducible from a seed. */
export interface RandomSource {
  /** The next number in [0, 1). */
  next(): number;
}

/** A generator seeded with `seed` (any integer; the same seed gives the same sequence). */
export function seededRandom(seed: number): RandomSource {
  let x = (Math.trunc(seed) >>> 0) ^ Math.trunc(seed / 0x100000000);
  const splitmix = () => {
    x = (x + 0x9e3779b9) | 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix(), b = splitmix(), c = splitmix(), d = splitmix();
  return {
    next() {
      const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
      const t = b << 9;
      c ^= a;
      d ^= b;
      b ^= c;
      a ^= d;
      c ^= t;
      d = rotl(d, 11);
      return result / 0x100000000;
    },
  };
}

function rotl(v: number, k: number): number {
  return (v << k) | (v >>> (32 - k));
}
