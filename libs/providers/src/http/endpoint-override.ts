/**
 * Where and how a native adapter (Gemini, Anthropic) sends its requests when the model is
 * served by another platform speaking the same wire format (Vertex AI): the URL, the auth
 * headers (replacing the adapter's API-key header) and a last touch to the request body.
 */
export interface EndpointOverride {
  url(model: string, stream: boolean): string;
  /** Auth headers for one request; may fetch or refresh a token. Rejects with an `UpstreamError`. */
  headers(signal: AbortSignal): Promise<Record<string, string>>;
  body?(body: Record<string, unknown>): Record<string, unknown>;
}
