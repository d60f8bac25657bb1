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
  /** Postgres server URL; when absent TokenHub runs on embedded Postgres under `dataDir`. */
  databaseUrl?: string;
  dataDir: string;
  migrationsRun: boolean;
  /** The admin key given by the environment; when absent one is generated at first start. */
  adminKey?: string;
  defaultProvider?: string;
  providers: ProviderConfig[];
  timeouts: UpstreamTimeouts;
  retry: RetryPolicy;
  authCacheTtlMs: number;
  usageFlushIntervalMs: number;
  usageBatchSize: number;
  bodyLimit: string;
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
