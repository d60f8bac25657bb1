import { BANDS, bandKeys, decodeVector, dot, encodeVector, unitVector } from './lsh';

function randomUnit(dims: number, seed: number): Float32Array {
  let s = seed;
  const next = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  return unitVector(Array.from({ length: dims }, next))!;
}

/** A unit vector at exactly `cosine` from `v`. */
function near(v: Float32Array, cosine: number, seed: number): Float32Array {
  const u = randomUnit(v.length, seed);
  const d = dot(u, v);
  const orth = unitVector(Array.from(u, (x, i) => x - d * v[i]))!;
  return unitVector(Array.from(v, (x, i) => cosine * x + Math.sqrt(1 - cosine * cosine) * orth[i]))!;
}

const shared = (a: number[], b: number[]) => a.filter((k) => b.includes(k)).length;

describe('LSH band keys', () => {
  it('gives one int32 key per band, the same for the same vector and scope', () => {
    const v = randomUnit(64, 1);
    const keys = bandKeys(v, 'scope');
    expect(keys).toHaveLength(BANDS);
    expect(keys.every((k) => Number.isInteger(k) && k >= -(2 ** 31) && k < 2 ** 31)).toBe(true);
    expect(bandKeys(Float32Array.from(v), 'scope')).toEqual(keys);
  });

  it('keys of another scope never match', () => {
    const v = randomUnit(64, 2);
    expect(shared(bandKeys(v, 'a'), bandKeys(v, 'b'))).toBe(0);
  });

  it('close vectors share a band almost always; unrelated ones almost never', () => {
    let closeHits = 0;
    let farHits = 0;
    for (let i = 0; i < 100; i++) {
      const v = randomUnit(128, 100 + i);
      if (shared(bandKeys(v, 's'), bandKeys(near(v, 0.95, 500 + i), 's')) > 0) closeHits++;
      if (shared(bandKeys(v, 's'), bandKeys(randomUnit(128, 900 + i), 's')) > 0) farHits++;
    }
    expect(closeHits).toBeGreaterThanOrEqual(95);
    expect(farHits).toBeLessThanOrEqual(3);
  });

  it('encodes vectors as float32 and back; the dot product of unit vectors is the cosine', () => {
    const v = unitVector([3, 4])!;
    expect(Array.from(decodeVector(encodeVector(v)))).toEqual(Array.from(v));
    expect(Array.from(decodeVector(new Uint8Array(encodeVector(v))))).toEqual(Array.from(v));
    expect(dot(v, unitVector([4, 3])!)).toBeCloseTo(24 / 25, 6);
    expect(dot(v, unitVector([1, 2, 3])!)).toBe(-1);
    expect(unitVector([0, 0])).toBeNull();
  });
});
