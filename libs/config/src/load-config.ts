import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { plainToInstance, Type } from 'class-transformer';
import { IsBooleanString, IsIn, IsInt, IsOptional, IsString, IsUrl, Matches, Max, Min, validateSync } from 'class-validator';
import { GatewayConfig, ProviderConfig, ProviderCredential, TracingConfig } from './gateway-config';
import { KNOWN_PROVIDERS } from './provider-families';

/** The environment variables TokenHub reads, validated at boot. */
class EnvironmentSchema {
  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(65535)
  PORT?: number;

  @IsOptional() @IsString()
  HOST?: string;

  @IsOptional() @IsUrl({ protocols: ['postgres', 'postgresql'], require_tld: false })
  DATABASE_URL?: string;

  @IsOptional() @IsString()
  DATA_DIR?: string;

  @IsOptional() @IsBooleanString()
  DB_MIGRATIONS_RUN?: string;

  @IsOptional() @IsString() @Matches(/^\S{16,}$/, { message: 'TOKENHUB_ADMIN_KEY must be at least 16 characters without spaces' })
  TOKENHUB_ADMIN_KEY?: string;

  @IsOptional() @Matches(/^[a-z0-9][a-z0-9_-]*$/, { message: 'TOKENHUB_DEFAULT_PROVIDER must be a provider name' })
  TOKENHUB_DEFAULT_PROVIDER?: string;

  @IsOptional() @Matches(/^[a-z0-9_,-]*$/i, { message: 'TOKENHUB_CUSTOM_PROVIDERS is a comma-separated list of names' })
  TOKENHUB_CUSTOM_PROVIDERS?: string;

  @IsOptional() @IsString()
  TOKENHUB_CONFIG_FILE?: string;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1)
  UPSTREAM_CONNECT_TIMEOUT_MS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1)
  UPSTREAM_FIRST_BYTE_TIMEOUT_MS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1)
  UPSTREAM_IDLE_TIMEOUT_MS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1)
  UPSTREAM_RESPONSE_TIMEOUT_MS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1024)
  UPSTREAM_MAX_RESPONSE_BYTES?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(0)
  CIRCUIT_BREAKER_FAILURES?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1)
  CIRCUIT_BREAKER_COOLDOWN_MS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(10)
  TOKENHUB_MAX_RETRIES?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(0)
  TOKENHUB_RETRY_BASE_MS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(0)
  TOKENHUB_RETRY_MAX_AFTER_MS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(0)
  AUTH_CACHE_TTL_MS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(0)
  AUTH_STALE_MAX_MS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1)
  USAGE_SPOOL_MAX_MB?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(100)
  USAGE_MEMORY_MAX_RECORDS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(100)
  USAGE_WRITE_TIMEOUT_MS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(10)
  USAGE_FLUSH_INTERVAL_MS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(5000)
  USAGE_BATCH_SIZE?: number;

  @IsOptional() @Matches(/^\d+(b|kb|mb)$/i, { message: 'BODY_LIMIT looks like 10mb' })
  BODY_LIMIT?: string;

  @IsOptional() @Type(() => Number) @IsInt() @Min(0)
  SHUTDOWN_GRACE_MS?: number;

  @IsOptional() @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL?: GatewayConfig['logLevel'];

  @IsOptional() @IsString()
  MODEL_CATALOG_PATH?: string;

  @IsOptional() @IsBooleanString()
  DOCS_ENABLED?: string;

  @IsOptional() @IsBooleanString()
  TOKENHUB_DROP_PARAMS?: string;

  @IsOptional() @Matches(/^\S{16,}$/, { message: 'METRICS_TOKEN must be at least 16 characters without spaces' })
  METRICS_TOKEN?: string;

  @IsOptional() @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] })
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;

  @IsOptional() @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] })
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?: string;

  @IsOptional() @IsString()
  OTEL_SERVICE_NAME?: string;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(256)
  WORKERS?: number;

  @IsOptional() @IsUrl({ protocols: ['redis', 'rediss'], require_tld: false })
  REDIS_URL?: string;

  @IsOptional() @Matches(/^[\w:{}.-]{1,64}$/, { message: 'REDIS_KEY_PREFIX must be 1-64 characters: letters, digits, _ : . - { }' })
  REDIS_KEY_PREFIX?: string;

  @IsOptional() @Matches(/^([0-9a-f]{64}|[A-Za-z0-9+/]{43}=)$/i, { message: 'TOKENHUB_ENCRYPTION_KEY must be 32 bytes: 64 hex characters or 44 base64 characters' })
  TOKENHUB_ENCRYPTION_KEY?: string;

  @IsOptional() @IsString() @Matches(/^.{32,}$/, { message: 'TOKENHUB_JWT_SECRET must be at least 32 characters' })
  TOKENHUB_JWT_SECRET?: string;

  @IsOptional() @IsUrl({ require_tld: false })
  TOKENHUB_JWT_JWKS_URL?: string;

  @IsOptional() @IsString()
  TOKENHUB_JWT_ISSUER?: string;

  @IsOptional() @IsString()
  TOKENHUB_JWT_AUDIENCE?: string;

  @IsOptional() @IsString()
  TOKENHUB_JWT_TEAM_CLAIM?: string;

  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(600)
  TOKENHUB_JWT_CLOCK_SKEW_S?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1)
  USAGE_RETENTION_DAYS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1)
  CACHE_TTL_SECONDS?: number;

  @IsOptional() @Matches(/^(\s*[^=,\s]+=\d+\s*)(,\s*[^=,\s]+=\d+\s*)*$/, { message: 'CACHE_NAMESPACE_TTLS looks like faq=86400,support=600' })
  CACHE_NAMESPACE_TTLS?: string;

  @IsOptional() @IsString()
  CACHE_EMBEDDINGS_MODEL?: string;

  @IsOptional() @Type(() => Number) @Min(0) @Max(1)
  CACHE_SIMILARITY_THRESHOLD?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1)
  CACHE_EMBEDDING_TIMEOUT_MS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1)
  CACHE_LOOKUP_TIMEOUT_MS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1)
  CACHE_MAX_PENDING_WRITES?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1)
  CACHE_MAX_ENTRY_BYTES?: number;
}

/** The optional JSON file named by `TOKENHUB_CONFIG_FILE`: several keys per provider, custom providers. */
interface ConfigFile {
  defaultProvider?: string;
  providers?: Record<
    string,
    {
      baseUrl?: string;
      apiKey?: string;
      keys?: Array<{ apiKey: string; weight?: number }>;
      maxRetries?: number;
      headers?: Record<string, string>;
    }
  >;
}

export class ConfigError extends Error {}

const parseKey = (value: string) => Buffer.from(value, value.length === 64 ? 'hex' : 'base64');

const envName = (provider: string) => provider.toUpperCase().replace(/-/g, '_');

/** `env:NAME` in the config file reads the secret from the environment instead. */
function secret(value: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (value?.startsWith('env:')) return env[value.slice(4)];
  return value;
}

function readConfigFile(path: string): ConfigFile {
  try {
    return JSON.parse(readFileSync(resolve(path), 'utf8')) as ConfigFile;
  } catch (err) {
    throw new ConfigError(`TOKENHUB_CONFIG_FILE ${path} could not be read as JSON: ${(err as Error).message}`);
  }
}

function buildProviders(env: NodeJS.ProcessEnv, file: ConfigFile, maxRetries: number): ProviderConfig[] {
  const custom = (env.TOKENHUB_CUSTOM_PROVIDERS ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  const names = new Set([...Object.keys(KNOWN_PROVIDERS), ...custom, ...Object.keys(file.providers ?? {})]);
  const providers: ProviderConfig[] = [];
  for (const name of names) {
    const known = KNOWN_PROVIDERS[name];
    const fromFile = file.providers?.[name];
    if (known?.family === 'vertex') {
      const vertex = vertexProvider(name, env, fromFile?.maxRetries ?? maxRetries, fromFile?.headers ?? {});
      if (vertex) providers.push(vertex);
      continue;
    }
    if (known?.family === 'bedrock') {
      const bedrock = bedrockProvider(name, env, fromFile?.maxRetries ?? maxRetries, fromFile?.headers ?? {});
      if (bedrock) providers.push(bedrock);
      continue;
    }
    const envKey = env[`${envName(name)}_API_KEY`];
    const envBase = env[`${envName(name)}_BASE_URL`];
    // Azure OpenAI also takes a Microsoft Entra ID token (sent as a bearer) when it has no key.
    const adToken = known?.family === 'azure-openai' && !envKey ? env[`${envName(name)}_AD_TOKEN`] : undefined;
    const apiVersion = env[`${envName(name)}_API_VERSION`];
    const baseUrl = (envBase ?? fromFile?.baseUrl ?? known?.defaultBaseUrl)?.replace(/\/+$/, '');
    const credentials: ProviderCredential[] = [];
    if (envKey || adToken) credentials.push({ apiKey: envKey || adToken, weight: 1 });
    const fileKey = secret(fromFile?.apiKey, env);
    if (fileKey) credentials.push({ apiKey: fileKey, weight: 1 });
    for (const k of fromFile?.keys ?? []) {
      const apiKey = secret(k.apiKey, env);
      if (apiKey) credentials.push({ apiKey, weight: k.weight ?? 1 });
    }
    // Enabled by a key, or by an explicit base URL (self-hosted servers such as Ollama and
    // vLLM run without a key).
    if (credentials.length === 0 && !envBase && !fromFile?.baseUrl) continue;
    if (!baseUrl) throw new ConfigError(`provider ${name} has a key but no base URL: set ${envName(name)}_BASE_URL`);
    if (credentials.length === 0) credentials.push({ weight: 1 });
    providers.push({
      name,
      family: known?.family ?? 'openai-compatible',
      baseUrl,
      credentials,
      maxRetries: fromFile?.maxRetries ?? maxRetries,
      acceptsPromptCacheKey: !!known?.acceptsPromptCacheKey,
      headers: fromFile?.headers ?? {},
      ...(apiVersion ? { apiVersion } : {}),
      ...(adToken ? { bearerAuth: true } : {}),
    });
  }
  return providers;
}

/**
 * Google Vertex AI: enabled by `<NAME>_PROJECT` with a service-account key file
 * (`<NAME>_CREDENTIALS_FILE`) or a static `<NAME>_ACCESS_TOKEN`. The base URL follows the
 * region (`<NAME>_LOCATION`, default us-central1) unless `<NAME>_BASE_URL` overrides it.
 */
function vertexProvider(name: string, env: NodeJS.ProcessEnv, maxRetries: number, headers: Record<string, string>): ProviderConfig | undefined {
  const prefix = envName(name);
  const project = env[`${prefix}_PROJECT`];
  const credentialsFile = env[`${prefix}_CREDENTIALS_FILE`];
  const accessToken = env[`${prefix}_ACCESS_TOKEN`];
  if (!project && !credentialsFile && !accessToken) return undefined;
  if (!project) throw new ConfigError(`provider ${name} needs ${prefix}_PROJECT`);
  if (!credentialsFile && !accessToken) throw new ConfigError(`provider ${name} needs ${prefix}_CREDENTIALS_FILE or ${prefix}_ACCESS_TOKEN`);
  const location = env[`${prefix}_LOCATION`] ?? 'us-central1';
  if (!/^[a-z0-9-]+$/.test(location)) throw new ConfigError(`${prefix}_LOCATION must be a region name such as us-central1`);
  const host = location === 'global' ? 'aiplatform.googleapis.com' : `${location}-aiplatform.googleapis.com`;
  const baseUrl = (env[`${prefix}_BASE_URL`] ?? `https://${host}/v1`).replace(/\/+$/, '');
  return {
    name,
    family: 'vertex',
    baseUrl,
    credentials: [{ weight: 1 }],
    maxRetries,
    acceptsPromptCacheKey: false,
    headers,
    vertex: { project, location, credentialsFile, accessToken, tokenUrl: env[`${prefix}_TOKEN_URL`] },
  };
}

/**
 * AWS Bedrock: enabled by AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (optional
 * AWS_SESSION_TOKEN), or by `<NAME>_BASE_URL` alone (requests then go unsigned, e.g. to a
 * signing proxy). The base URL follows AWS_REGION
 * (default us-east-1) unless `<NAME>_BASE_URL` overrides it.
 */
function bedrockProvider(name: string, env: NodeJS.ProcessEnv, maxRetries: number, headers: Record<string, string>): ProviderConfig | undefined {
  const prefix = envName(name);
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  const envBase = env[`${prefix}_BASE_URL`];
  if (!(accessKeyId && secretAccessKey) && !envBase) return undefined;
  if (!accessKeyId !== !secretAccessKey) throw new ConfigError(`provider ${name} needs both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`);
  const region = env.AWS_REGION ?? 'us-east-1';
  if (!/^[a-z0-9-]+$/.test(region)) throw new ConfigError('AWS_REGION must be a region name such as us-east-1');
  return {
    name,
    family: 'bedrock',
    baseUrl: (envBase ?? `https://bedrock-runtime.${region}.amazonaws.com`).replace(/\/+$/, ''),
    credentials: [{ weight: 1 }],
    maxRetries,
    acceptsPromptCacheKey: false,
    headers,
    aws: { accessKeyId, secretAccessKey, sessionToken: env.AWS_SESSION_TOKEN || undefined, region },
  };
}

/** `faq=86400,support=600` as `{ faq: 86400, support: 600 }`. */
function parseNamespaceTtls(value: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const pair of (value ?? '').split(',')) {
    const [name, seconds] = pair.split('=').map((s) => s.trim());
    if (name && seconds) out[name] = Number(seconds);
  }
  return out;
}

/** Parses and validates the environment once; throws a `ConfigError` that says what is wrong. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  // An empty variable (as docker compose passes `${X:-}`) means unset.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const parsed = plainToInstance(EnvironmentSchema, present, { enableImplicitConversion: false });
  const errors = validateSync(parsed, { forbidUnknownValues: false });
  if (errors.length > 0) {
    const lines = errors.flatMap((e) => Object.values(e.constraints ?? {}).map((m) => `  - ${m}`));
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const file = parsed.TOKENHUB_CONFIG_FILE ? readConfigFile(parsed.TOKENHUB_CONFIG_FILE) : {};
  const maxRetries = parsed.TOKENHUB_MAX_RETRIES ?? 1;
  const providers = buildProviders(present, file, maxRetries);
  const defaultProvider = parsed.TOKENHUB_DEFAULT_PROVIDER ?? file.defaultProvider;
  if (defaultProvider && !providers.some((p) => p.name === defaultProvider)) {
    throw new ConfigError(`TOKENHUB_DEFAULT_PROVIDER ${defaultProvider} is not a configured provider`);
  }
  return {
    port: parsed.PORT ?? 8080,
    host: parsed.HOST ?? '0.0.0.0',
    workers: parsed.WORKERS,
    databaseUrl: parsed.DATABASE_URL || undefined,
    dataDir: resolve(parsed.DATA_DIR ?? './data'),
    migrationsRun: (parsed.DB_MIGRATIONS_RUN ?? 'true') === 'true',
    adminKey: parsed.TOKENHUB_ADMIN_KEY,
    defaultProvider,
    providers,
    timeouts: {
      connectMs: parsed.UPSTREAM_CONNECT_TIMEOUT_MS ?? 5_000,
      firstByteMs: parsed.UPSTREAM_FIRST_BYTE_TIMEOUT_MS ?? 120_000,
      idleMs: parsed.UPSTREAM_IDLE_TIMEOUT_MS ?? 60_000,
      responseMs: parsed.UPSTREAM_RESPONSE_TIMEOUT_MS ?? 600_000,
      maxResponseBytes: parsed.UPSTREAM_MAX_RESPONSE_BYTES ?? 100 * 1024 * 1024,
    },
    circuitBreaker: {
      failureThreshold: parsed.CIRCUIT_BREAKER_FAILURES ?? 5,
      cooldownMs: parsed.CIRCUIT_BREAKER_COOLDOWN_MS ?? 30_000,
    },
    retry: {
      maxRetries,
      baseDelayMs: parsed.TOKENHUB_RETRY_BASE_MS ?? 200,
      maxDelayMs: 5_000,
      maxRetryAfterMs: parsed.TOKENHUB_RETRY_MAX_AFTER_MS ?? 10_000,
    },
    dropParams: parsed.TOKENHUB_DROP_PARAMS === 'true',
    authCacheTtlMs: parsed.AUTH_CACHE_TTL_MS ?? 30_000,
    authStaleMaxMs: parsed.AUTH_STALE_MAX_MS ?? 15 * 60_000,
    ledger: {
      spoolMaxBytes: (parsed.USAGE_SPOOL_MAX_MB ?? 1024) * 1024 * 1024,
      memoryMaxRecords: parsed.USAGE_MEMORY_MAX_RECORDS ?? 10_000,
      writeTimeoutMs: parsed.USAGE_WRITE_TIMEOUT_MS ?? 5_000,
    },
    usageFlushIntervalMs: parsed.USAGE_FLUSH_INTERVAL_MS ?? 500,
    usageBatchSize: parsed.USAGE_BATCH_SIZE ?? 2000,
    bodyLimitBytes: byteSize(parsed.BODY_LIMIT ?? '10mb'),
    shutdownGraceMs: parsed.SHUTDOWN_GRACE_MS ?? 25_000,
    logLevel: parsed.LOG_LEVEL ?? 'info',
    modelCatalogPath: parsed.MODEL_CATALOG_PATH,
    docsEnabled: (parsed.DOCS_ENABLED ?? 'true') === 'true',
    redisUrl: parsed.REDIS_URL,
    redisKeyPrefix: parsed.REDIS_KEY_PREFIX ?? 'tokenhub:',
    encryptionKey: parsed.TOKENHUB_ENCRYPTION_KEY ? parseKey(parsed.TOKENHUB_ENCRYPTION_KEY) : undefined,
    jwt:
      parsed.TOKENHUB_JWT_SECRET || parsed.TOKENHUB_JWT_JWKS_URL
        ? {
            secret: parsed.TOKENHUB_JWT_SECRET,
            jwksUrl: parsed.TOKENHUB_JWT_JWKS_URL,
            issuer: parsed.TOKENHUB_JWT_ISSUER,
            audience: parsed.TOKENHUB_JWT_AUDIENCE,
            teamClaim: parsed.TOKENHUB_JWT_TEAM_CLAIM ?? 'team_id',
            clockSkewS: parsed.TOKENHUB_JWT_CLOCK_SKEW_S ?? 60,
          }
        : undefined,
    usageRetentionDays: parsed.USAGE_RETENTION_DAYS ?? 90,
    cache: {
      ttlSeconds: parsed.CACHE_TTL_SECONDS ?? 3600,
      namespaceTtlSeconds: parseNamespaceTtls(parsed.CACHE_NAMESPACE_TTLS),
      embeddingsModel: parsed.CACHE_EMBEDDINGS_MODEL,
      similarityThreshold: parsed.CACHE_SIMILARITY_THRESHOLD ?? 0.92,
      embeddingTimeoutMs: parsed.CACHE_EMBEDDING_TIMEOUT_MS ?? 2_000,
      lookupTimeoutMs: parsed.CACHE_LOOKUP_TIMEOUT_MS ?? 3_000,
      maxPendingWrites: parsed.CACHE_MAX_PENDING_WRITES ?? 10_000,
      maxEntryBytes: parsed.CACHE_MAX_ENTRY_BYTES ?? 256 * 1024,
    },
    metricsToken: parsed.METRICS_TOKEN,
    tracing: tracingConfig(parsed.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, parsed.OTEL_EXPORTER_OTLP_ENDPOINT, parsed.OTEL_SERVICE_NAME),
  };
}

/** The traces URL as the OpenTelemetry specification builds it: the signal's own, else the base one plus `/v1/traces`. */
function tracingConfig(tracesUrl: string | undefined, baseUrl: string | undefined, serviceName: string | undefined): TracingConfig | undefined {
  const url = tracesUrl ?? (baseUrl ? `${baseUrl.replace(/\/+$/, '')}/v1/traces` : undefined);
  return url ? { tracesUrl: url, serviceName: serviceName || 'tokenhub' } : undefined;
}

const BYTE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 * 1024 };

/** `10mb` → bytes (units of 1024, as the body parser counts them); the format is checked above. */
function byteSize(value: string): number {
  const [, digits, unit] = /^(\d+)(b|kb|mb)$/i.exec(value)!;
  return Number(digits) * BYTE_UNITS[unit.toLowerCase()];
}
