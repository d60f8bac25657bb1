export type ProviderFamily = 'anthropic' | 'gemini' | 'cohere' | 'openai-compatible' | 'azure-openai' | 'vertex' | 'bedrock';

export interface ProviderCredential {
  /** Sent as `Authorization: Bearer`; absent for keyless self-hosted servers. */
  apiKey?: string;
  /** Relative share of requests this credential serves. */
  weight: number;
}

export interface ProviderConfig {
  name: string;
  family: ProviderFamily;
  baseUrl: string;
  credentials: ProviderCredential[];
  maxRetries: number;
  acceptsPromptCacheKey: boolean;
  /** Extra headers sent with every upstream request (e.g. OpenRouter's `HTTP-Referer`). */
  headers: Record<string, string>;
  /** The provider's API version, from `<PROVIDER>_API_VERSION` (Azure OpenAI's `api-version` query parameter). */
  apiVersion?: string;
  /** Credentials are bearer tokens even where the family uses another header (Azure OpenAI with `AZURE_AD_TOKEN`). */
  bearerAuth?: boolean;
  /** Google Vertex AI: the project and region, and how to get an OAuth access token. */
  vertex?: VertexConfig;
  /** AWS Bedrock: the SigV4 signing credentials and region. */
  aws?: AwsConfig;
}

/** Without keys (only a `BEDROCK_BASE_URL`, e.g. a signing proxy) requests go unsigned. */
export interface AwsConfig {
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  region: string;
}

export interface VertexConfig {
  project: string;
  location: string;
  /** A service-account key file (JSON); its key signs the JWT exchanged for access tokens. */
  credentialsFile?: string;
  /** A static access token, used as is (no refresh). */
  accessToken?: string;
  /** The OAuth token endpoint (default: the key file's `token_uri`, else Google's). */
  tokenUrl?: string;
}

export interface UpstreamTimeouts {
  /** TCP/TLS connect deadline. */
  connectMs: number;
  /** Deadline for the response headers (the first byte). */
  firstByteMs: number;
  /** Longest silence allowed between two body chunks. */
  idleMs: number;
  /**
   * Deadline for a whole non-streamed response (headers and body), against upstreams that
   * trickle bytes just fast enough to stay under `idleMs`. Streams are bounded by `idleMs` only.
   */
  responseMs: number;
  /** Largest non-streamed response body read from an upstream. */
  maxResponseBytes: number;
}

/** When a provider credential is skipped after repeated failures (5xx, timeouts, connection errors). */
export interface CircuitBreakerPolicy {
  /** Consecutive failures (of one credential with one model) that open its circuit; 0 turns the breaker off. */
  failureThreshold: number;
  /** How long an open circuit skips the credential before one probe request is let through. */
  cooldownMs: number;
}

export interface RetryPolicy {
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** A `Retry-After` longer than this is not waited for; the next fallback is tried. */
  maxRetryAfterMs: number;
}

/** TokenHub's configuration, parsed and validated once at boot (see `loadConfig`). */
export interface GatewayConfig {
  port: number;
  host: string;
  /** Gateway processes (Node cluster workers) sharing the port; absent means one per core. The embedded store always runs one. */
  workers?: number;
  /** Postgres server URL; when absent TokenHub runs on embedded Postgres under `dataDir`. */
  databaseUrl?: string;
  dataDir: string;
  migrationsRun: boolean;
  /** The admin key given by the environment; when absent one is generated at first start. */
  adminKey?: string;
  defaultProvider?: string;
  providers: ProviderConfig[];
  timeouts: UpstreamTimeouts;
  circuitBreaker: CircuitBreakerPolicy;
  retry: RetryPolicy;
  /** Drop parameters a provider cannot honour (naming them in `x-tokenhub-dropped-params`) instead of refusing the request; a request's `x-tokenhub-drop-params` header overrides it. */
  dropParams: boolean;
  authCacheTtlMs: number;
  /** While the database errors, keys already cached are served this long past their TTL (0: never). */
  authStaleMaxMs: number;
  /** The usage ledger's bounds while the database is down or slow (see docs/ledger.md). */
  ledger: LedgerConfig;
  usageFlushIntervalMs: number;
  usageBatchSize: number;
  /** The largest request body accepted, in bytes (`BODY_LIMIT`, e.g. `10mb`); larger ones get a 413. */
  bodyLimitBytes: number;
  shutdownGraceMs: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  modelCatalogPath?: string;
  docsEnabled: boolean;
  /** With it, limit and budget counters live in Redis; without it, in Postgres. */
  redisUrl?: string;
  /** Prepended to every Redis key TokenHub writes (a `{hash tag}` keeps them in one Redis Cluster slot). */
  redisKeyPrefix: string;
  /** 32 bytes; encrypts provider credentials stored through the admin API (AES-256-GCM). */
  encryptionKey?: Buffer;
  /** Platform auth tokens (JWT), when configured. */
  jwt?: JwtConfig;
  /** Raw usage records older than this are pruned (rollups are kept). */
  usageRetentionDays: number;
  /** The response cache (`prompt_cache_key`): TTLs and the semantic lookup. */
  cache: ResponseCacheConfig;
  /** With it, `GET /metrics` asks for `Authorization: Bearer <metricsToken>`; without it, it is open. */
  metricsToken?: string;
  /** OpenTelemetry traces, exported over OTLP/HTTP when an endpoint is configured. */
  tracing?: TracingConfig;
}

export interface TracingConfig {
  /** The OTLP/HTTP traces URL (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`). */
  tracesUrl: string;
  serviceName: string;
}

export interface ResponseCacheConfig {
  /** How long a cached answer lives unless its namespace or the request (`x-tokenhub-cache-ttl`) says otherwise. */
  ttlSeconds: number;
  /** Per namespace (`prompt_cache_key`), from `CACHE_NAMESPACE_TTLS=faq=86400,support=600`. */
  namespaceTtlSeconds: Record<string, number>;
  /** `provider/model` that embeds the last user turn for semantic hits; without it, exact hits only. */
  embeddingsModel?: string;
  /** Cosine similarity at or above which a stored question counts as the same one. */
  similarityThreshold: number;
  /** Deadline of the embeddings call; past it the lookup is a miss. */
  embeddingTimeoutMs: number;
  /** Deadline of a whole lookup (database queries and embedding); past it the request is a miss. */
  lookupTimeoutMs: number;
  /** Cache writes waiting for the database at most; beyond it new ones are dropped. */
  maxPendingWrites: number;
  /** Answers larger than this (bytes of normalised JSON) are not stored. */
  maxEntryBytes: number;
}

export interface LedgerConfig {
  /** Bytes the on-disk spool (`${dataDir}/spool/usage`) may hold; when full, new chat requests get 503. */
  spoolMaxBytes: number;
  /** Usage records held in memory at most before they are spilled to the spool. */
  memoryMaxRecords: number;
  /** A batch insert taking longer than this is treated as failed and its records spooled. */
  writeTimeoutMs: number;
}

export interface JwtConfig {
  /** HS256 shared secret. */
  secret?: string;
  /** RS256/ES256 keys. */
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
  /** The claim naming the subject's team (a team id). */
  teamClaim: string;
  clockSkewS: number;
}
