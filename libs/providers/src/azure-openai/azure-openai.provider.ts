import type { ProviderConfig } from '@tokenhub/config';
import { CredentialPool } from '../credentials/credential-pool';
import type { UpstreamHttpClient } from '../http/upstream-http-client';
import { OpenAICompatibleProvider } from '../openai-compatible/openai-compatible.provider';

/** The `api-version` sent when `AZURE_API_VERSION` is not set (Azure OpenAI's GA data-plane version). */
export const AZURE_DEFAULT_API_VERSION = '2024-10-21';

/**
 * Azure OpenAI Service. Bodies and answers are OpenAI's, so everything but addressing and
 * authentication is `OpenAICompatibleProvider`'s:
 *
 * - the model after `azure/` is the *deployment* name:
 *   `{baseUrl}/openai/deployments/{deployment}/chat/completions?api-version={apiVersion}`
 *   (and `/embeddings` for an embeddings deployment)
 *   (`baseUrl` is the resource endpoint, e.g. `https://myres.openai.azure.com`);
 * - keys go in the `api-key` header; with `bearerAuth` (set by `AZURE_AD_TOKEN`, a Microsoft
 *   Entra ID access token for the `https://cognitiveservices.azure.com` scope) the token is
 *   sent as `Authorization: Bearer`.
 */
export class AzureOpenAIProvider extends OpenAICompatibleProvider {
  private readonly apiVersion: string;

  constructor(config: ProviderConfig, http: UpstreamHttpClient, credentials?: CredentialPool) {
    super(config, http, credentials);
    this.apiVersion = config.apiVersion ?? AZURE_DEFAULT_API_VERSION;
  }

  protected override urlFor(model: string, operation = 'chat/completions'): string {
    const base = this.config.baseUrl.replace(/\/openai\/?$/, '');
    return `${base}/openai/deployments/${encodeURIComponent(model)}/${operation}?api-version=${encodeURIComponent(this.apiVersion)}`;
  }

  protected override authorize(headers: Record<string, string>, apiKey: string): void {
    if (this.config.bearerAuth) headers.authorization = `Bearer ${apiKey}`;
    else headers['api-key'] = apiKey;
  }
}
