/**
 * Response cache lookup latency as a namespace grows: rows seeded straight into
 * `response_cache_entries` (one scope, i.e. one namespace, team, model and history: the
 * worst case, every row a candidate bucket), then lookups timed through the same code the
 * gateway runs (ResponseCacheRepository, lsh.ts, semantic-search.ts) at each size.
 *
 *   npm run bench:cache
 *   BENCH_CACHE_SIZES=10000,100000   rows per scope at which to measure (default)
 *   BENCH_CACHE_DIM=256              embedding dimensions (default 256)
 *   BENCH_CACHE_QUERIES=300          lookups timed per kind and size
 *   BENCH_DATABASE_URL=postgres://…  a server to create the scratch database on
 *                                    (default postgres://postgres@127.0.0.1:5432/postgres)
 *   BENCH_STORE=embedded             embedded PGlite instead of the server
 *   BENCH_CACHE_EXPLAIN=1            also print the plan of one candidate query per size
 *
 * Two scopes grow side by side: `uniform` (unrelated questions are orthogonal, cosine ≈ 0)
 * and `correlated` (every pair of unrelated questions at cosine ≈ 0.3, as real embeddings
 * of one topic are); the correlated one is the harder for LSH (more candidates per band).
 * The embedding call itself (a provider round trip) is not part of the figures.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions, ResponseCacheRepository } from '@tokenhub/store';
import { bandKeys, encodeVector } from '../apps/gateway/src/cache/lsh';
import { nearestInScope } from '../apps/gateway/src/cache/semantic-search';

const SIZES = (process.env.BENCH_CACHE_SIZES ?? '10000,100000').split(',').map(Number);
const DIM = Number(process.env.BENCH_CACHE_DIM ?? 256);
const QUERIES = Number(process.env.BENCH_CACHE_QUERIES ?? 300);
const SERVER_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const EMBEDDED = process.env.BENCH_STORE === 'embedded';
/** The similarity a paraphrase is seeded at, and the threshold it must clear (the default). */
const PARAPHRASE_COSINE = 0.95;
const THRESHOLD = 0.92;
const SEED_BATCH = 1_000;
const MODEL = 'openai/text-embedding-3-small';

/** The band index exactly as migrations/…-ResponseCache.ts creates it. */
const LSH_INDEX = `CREATE INDEX "ix_response_cache_entries_lsh_keys" ON "response_cache_entries" USING gin ("lsh_keys") WITH (fastupdate = off)`;

const log = (message: string) => process.stderr.write(`[bench:cache] ${message}\n`);

/** Deterministic Gaussian numbers (so runs seed the same vectors). */
function gaussian(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 1) / 4294967297;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

function normalise(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n);
  for (let i = 0; i < v.length; i++) v[i] /= n;
  return v;
}

interface Scope {
  name: string;
  hash: string;
  /** Pairwise cosine of unrelated questions. */
  rho: number;
  mean: Float32Array;
  random: () => number;
  vectors: Float32Array[];
  requestHashes: string[];
}

function makeScope(name: string, rho: number, seed: number): Scope {
  const random = gaussian(seed);
  const mean = normalise(Float32Array.from({ length: DIM }, random));
  return { name, hash: randomBytes(32).toString('hex'), rho, mean, random, vectors: [], requestHashes: [] };
}

/** A question of the scope: unit vectors whose pairwise cosine is ≈ rho. */
function question(scope: Scope): Float32Array {
  const v = Float32Array.from({ length: DIM }, scope.random);
  normalise(v);
  const a = Math.sqrt(scope.rho);
  const b = Math.sqrt(1 - scope.rho);
  for (let i = 0; i < DIM; i++) v[i] = a * scope.mean[i] + b * v[i];
  return normalise(v);
}

/** A paraphrase of `v`: a unit vector at exactly `cosine` from it. */
function paraphrase(scope: Scope, v: Float32Array, cosine: number): Float32Array {
  const u = Float32Array.from({ length: DIM }, scope.random);
  let d = 0;
  for (let i = 0; i < DIM; i++) d += u[i] * v[i];
  for (let i = 0; i < DIM; i++) u[i] -= d * v[i];
  normalise(u);
  const s = Math.sqrt(1 - cosine * cosine);
  return Float32Array.from(v, (x, i) => cosine * x + s * u[i]);
}

const scopeKey = (scope: Scope) => `${scope.hash}:${MODEL}`;

async function seed(dataSource: DataSource, scope: Scope, upTo: number): Promise<void> {
  const completion = JSON.stringify({ model: 'gpt-4o-2024-08-06', choices: [{ index: 0, message: { role: 'assistant', content: 'A cached answer of typical length. '.repeat(8) }, finish_reason: 'stop' }], usage: { prompt_tokens: 40, completion_tokens: 70, total_tokens: 110 } });
  const expires = new Date(Date.now() + 24 * 3600_000);
  while (scope.vectors.length < upTo) {
    const n = Math.min(SEED_BATCH, upTo - scope.vectors.length);
    const values: string[] = [];
    const params: unknown[] = [];
    for (let i = 0; i < n; i++) {
      const v = question(scope);
      const requestHash = randomBytes(32).toString('hex');
      scope.vectors.push(v);
      scope.requestHashes.push(requestHash);
      const p = params.length;
      values.push(`('bench', 'team', $${p + 1}, $${p + 2}, $${p + 3}, $${p + 4}, $${p + 5}::jsonb, 'openai', 'gpt-4o', 0.00019, $${p + 6})`);
      params.push(scope.hash, requestHash, encodeVector(v), bandKeys(v, scopeKey(scope)), completion, expires);
    }
    await dataSource.query(
      `INSERT INTO response_cache_entries (namespace, owner, scope_hash, request_hash, embedding, lsh_keys, completion, served_provider, served_model, cost_usd, expires_at) VALUES ${values.join(', ')}`,
      params,
    );
  }
}

function summary(ms: number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  return `p50 ${at(50).toFixed(2)} ms, p95 ${at(95).toFixed(2)} ms, p99 ${at(99).toFixed(2)} ms`;
}

async function measure(repository: ResponseCacheRepository, scope: Scope): Promise<Record<string, string>> {
  const exact: number[] = [];
  const semantic: number[] = [];
  const miss: number[] = [];
  let found = 0;
  let candidates = 0;
  let missCandidates = 0;
  for (let q = 0; q < QUERIES; q++) {
    const i = Math.floor(Math.abs(scope.random() * 1e9)) % scope.vectors.length;
    // Exact hit: the stored request hash, the entry read back.
    let t = performance.now();
    const entry = await repository.findExact(scope.requestHashes[i]);
    exact.push(performance.now() - t);
    if (!entry) throw new Error('seeded entry not found');

    // Semantic hit: the exact lookup misses, then band keys, candidates, cosine, the entry.
    const query = paraphrase(scope, scope.vectors[i], PARAPHRASE_COSINE);
    t = performance.now();
    await repository.findExact(randomBytes(32).toString('hex'));
    const nearest = await nearestInScope(repository, scope.hash, query, bandKeys(query, scopeKey(scope)));
    if (nearest && nearest.similarity >= THRESHOLD) await repository.findById(nearest.id);
    semantic.push(performance.now() - t);
    if (nearest && nearest.similarity >= THRESHOLD) found++;
    candidates += nearest?.matches ?? 0;

    // Miss: a new, unrelated question of the same scope.
    const fresh = question(scope);
    t = performance.now();
    await repository.findExact(randomBytes(32).toString('hex'));
    const none = await nearestInScope(repository, scope.hash, fresh, bandKeys(fresh, scopeKey(scope)));
    miss.push(performance.now() - t);
    missCandidates += none?.matches ?? 0;
  }
  return {
    exact: summary(exact),
    semantic: `${summary(semantic)}; found ${((100 * found) / QUERIES).toFixed(1)}% of paraphrases at cosine ${PARAPHRASE_COSINE}; ${(candidates / QUERIES).toFixed(1)} rows sharing a band on average`,
    miss: `${summary(miss)}; ${(missCandidates / QUERIES).toFixed(1)} rows sharing a band on average`,
  };
}

/** The plan of the band query (the function ResponseCacheRepository.findBandMatches calls). */
async function explain(dataSource: DataSource, scope: Scope): Promise<void> {
  const query = paraphrase(scope, scope.vectors[0], PARAPHRASE_COSINE);
  const rows = await dataSource.transaction(async (manager) => {
    await manager.query('SET LOCAL enable_seqscan = off');
    return manager.query<Array<{ 'QUERY PLAN': string }>>(
      `EXPLAIN (ANALYZE, BUFFERS) SELECT e.id, e.lsh_keys FROM response_cache_entries e
        WHERE e.lsh_keys && $1::integer[] AND e.scope_hash = $2 AND e.expires_at - now() > interval '0' AND e.embedding IS NOT NULL LIMIT 2000`,
      [bandKeys(query, scopeKey(scope)), scope.hash],
    );
  });
  for (const row of rows) log(row['QUERY PLAN']);
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tokenhub-bench-cache-'));
  let databaseUrl: string | undefined;
  let dbName: string | undefined;
  if (!EMBEDDED) {
    dbName = `tokenhub_bench_cache_${process.pid}`;
    const admin = new Client({ connectionString: SERVER_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    const url = new URL(SERVER_URL);
    url.pathname = `/${dbName}`;
    databaseUrl = url.toString();
  }
  const dataSource = await new DataSource(buildDataSourceOptions({ databaseUrl, dataDir, migrationsRun: true })).initialize();
  try {
    const repository = new ResponseCacheRepository(dataSource);
    const scopes = [makeScope('uniform', 0, 1), makeScope('correlated', 0.3, 2)];
    log(`store ${EMBEDDED ? 'embedded PGlite' : 'Postgres server'}, ${DIM} dimensions, ${QUERIES} lookups per kind`);
    for (const size of SIZES) {
      // A bulk load: the band index is dropped while rows go in and built again after, as
      // `CREATE INDEX` does it in the migration (same definition); lookups then use it as in service.
      await dataSource.query('DROP INDEX ix_response_cache_entries_lsh_keys');
      for (const scope of scopes) {
        const started = performance.now();
        await seed(dataSource, scope, size);
        log(`${scope.name}: seeded to ${size} rows in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      }
      await dataSource.query(LSH_INDEX);
      // As autovacuum would have by then: visibility and hint bits set, statistics fresh.
      await dataSource.query('VACUUM ANALYZE response_cache_entries');
      if (process.env.BENCH_CACHE_EXPLAIN === '1') await explain(dataSource, scopes[1]);
      for (const scope of scopes) {
        const r = await measure(repository, scope);
        console.log(`${size} rows, ${scope.name} (cosine between unrelated questions ≈ ${scope.rho}):`);
        console.log(`  exact hit     ${r.exact}`);
        console.log(`  semantic hit  ${r.semantic}`);
        console.log(`  miss          ${r.miss}`);
      }
    }
  } finally {
    await dataSource.destroy();
    rmSync(dataDir, { recursive: true, force: true });
    if (dbName) {
      const admin = new Client({ connectionString: SERVER_URL });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      await admin.end();
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
