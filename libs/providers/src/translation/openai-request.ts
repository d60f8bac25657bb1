import { InvalidRequestError } from '@tokenhub/common';

/** A message of an OpenAI chat request, as native translators read it. */
export interface OpenAIMessage {
  role?: string;
  content?: unknown;
  name?: string;
  tool_calls?: Array<{ id?: string; type?: string; function?: { name?: string; arguments?: string } }>;
  tool_call_id?: string;
}

/** A 400 that names the provider which cannot take the request as it is. */
export function providerRefusal(provider: string, message: string, param: string): InvalidRequestError {
  return new InvalidRequestError(`${provider}: ${message}`, param);
}

/** The text of a message's content: the string, or its text parts joined by newlines. */
export function messageText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((p: { type?: string; text?: string }) => (p && (p.type === 'text' || p.type === undefined) && typeof p.text === 'string' ? p.text : ''))
      .filter(Boolean)
      .join('\n');
  }
  return '';
}

/** A tool call's `arguments` string parsed as JSON (empty means `{}`); otherwise a 400. */
export function toolCallArguments(provider: string, args: string | undefined, index: number): unknown {
  if (!args) return {};
  try {
    return JSON.parse(args);
  } catch {
    throw providerRefusal(provider, 'tool call arguments must be JSON', `messages[${index}].tool_calls`);
  }
}
