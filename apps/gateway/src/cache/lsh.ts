/**
 * Random-hyperplane locality-sensitive hashing for cosine similarity. Each of `BANDS`
 * bands is `ROWS` sign bits (which side of a random hyperplane a vector lies on); two
 * vectors at angle θ agree on one bit with probability 1 − θ/π, on a whole band with
 * that to the power `ROWS`, and share at least one band with probability
 * 1 − (1 − (1 − θ/π)^ROWS)^BANDS:
 *
 *   cosine 0.95 → 99.8%, 0.92 → 95.9%, 0.90 → 89%, 0.80 → 39%, 0.30 → 0.16%, 0 → 0.005%
 *
 * so a lookup reads the few rows sharing a band (via a GIN index on the band keys) and
 * computes the exact cosine on those only. Band keys are hashed with the scope, so the
 * index finds the scope's rows and no others.
 */
export const BANDS = 48;
export const ROWS = 20;

/** Hyperplanes per dimension count, generated once from a fixed seed (every replica draws the same ones). */
const planesByDimension = new Map<number, Float32Array>();

function planes(dimensions: number): Float32Array {
  let p = planesByDimension.get(dimensions);
  if (!p) {
    p = new Float32Array(BANDS * ROWS * dimensions);
    const random = mulberry32(0x7fc3a1 ^ dimensions);
    for (let i = 0; i < p.length; i += 2) {
      // Box–Muller: two standard normal values from two uniform ones.
      const u = Math.max(random(), 1e-12);
      const v = random();
      const r = Math.sqrt(-2 * Math.log(u));
      p[i] = r * Math.cos(2 * Math.PI * v);
      if (i + 1 < p.length) p[i + 1] = r * Math.sin(2 * Math.PI * v);
    }
    planesByDimension.set(dimensions, p);
  }
  return p;
}

/** The vector scaled to length 1 (cosine is then a dot product); null for a zero or non-finite vector. */
export function unitVector(vector: number[]): Float32Array | null {
  let norm = 0;
  for (const x of vector) norm += x * x;
  norm = Math.sqrt(norm);
  if (!Number.isFinite(norm) || norm === 0) return null;
  const out = new Float32Array(vector.length);
  for (let i = 0; i < vector.length; i++) out[i] = vector[i] / norm;
  return out;
}

/** One int32 key per band: the band's bits hashed with the scope and the band's index. */
export function bandKeys(unit: Float32Array, scope: string): number[] {
  const dims = unit.length;
  const p = planes(dims);
  const keys: number[] = [];
  for (let band = 0; band < BANDS; band++) {
    let bits = 0;
    for (let row = 0; row < ROWS; row++) {
      const offset = (band * ROWS + row) * dims;
      let dot = 0;
      for (let i = 0; i < dims; i++) dot += unit[i] * p[offset + i];
      if (dot >= 0) bits |= 1 << row;
    }
    keys.push(fnv1a32(`${scope}:${dims}:${band}:${bits}`));
  }
  return keys;
}

export function dot(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return -1;
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

/** Little-endian float32, as stored in `response_cache_entries.embedding`. */
export function encodeVector(unit: Float32Array): Buffer {
  const out = Buffer.alloc(unit.length * 4);
  for (let i = 0; i < unit.length; i++) out.writeFloatLE(unit[i], i * 4);
  return out;
}

/** Reads what `encodeVector` wrote (a Buffer from node-postgres, a Uint8Array from PGlite). */
export function decodeVector(bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.byteLength >>> 2);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/** 32-bit FNV-1a, as a signed int32 (Postgres `integer`). */
function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
