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

/** How a native format writes the blocks of a turn (Anthropic Messages, Bedrock Converse). */
export interface TurnFormat<B> {
  provider: string;
  /** A user message's content (text and images), or an assistant's text parts. */
  content(content: unknown, index: number): B[];
  toolUse(id: string | undefined, name: string | undefined, input: unknown): B;
  toolResult(toolCallId: string, text: string): B;
  isToolResult(block: B): boolean;
  /** The text block that opens a conversation not starting with the user. */
  text(text: string): B;
}

/**
 * OpenAI messages as the alternating user/assistant turns Anthropic and Bedrock require:
 * system and developer messages go apart (as text), consecutive messages of one role merge,
 * tool results become user blocks placed first in their turn, assistant tool calls become
 * tool-use blocks, and a conversation must open with a user turn.
 */
export function alternatingTurns<B>(messages: OpenAIMessage[], format: TurnFormat<B>): { system: string[]; turns: Array<{ role: 'user' | 'assistant'; content: B[] }> } {
  const invalid = (message: string, param: string) => providerRefusal(format.provider, message, param);
  const system: string[] = [];
  const turns: Array<{ role: 'user' | 'assistant'; content: B[] }> = [];
  const push = (role: 'user' | 'assistant', blocks: B[]) => {
    if (!blocks.length) return;
    const last = turns[turns.length - 1];
    if (last?.role === role) last.content.push(...blocks);
    else turns.push({ role, content: blocks });
  };
  messages.forEach((m, i) => {
    switch (m?.role) {
      case 'system':
      case 'developer': {
        const text = messageText(m.content);
        if (text) system.push(text);
        break;
      }
      case 'user':
        push('user', format.content(m.content, i));
        break;
      case 'assistant': {
        const text = typeof m.content === 'string' ? m.content : Array.isArray(m.content) ? m.content.filter((p: { type?: string }) => p?.type === 'text') : null;
        const blocks = format.content(text, i);
        for (const call of m.tool_calls ?? []) blocks.push(format.toolUse(call.id, call.function?.name, toolCallArguments(format.provider, call.function?.arguments, i)));
        push('assistant', blocks);
        break;
      }
      case 'tool':
        if (typeof m.tool_call_id !== 'string') throw invalid('tool messages need a tool_call_id', `messages[${i}].tool_call_id`);
        push('user', [format.toolResult(m.tool_call_id, messageText(m.content))]);
        break;
      default:
        throw invalid(`role '${String(m?.role)}' is not supported`, `messages[${i}].role`);
    }
  });
  if (!turns.length || turns[0].role !== 'user') turns.unshift({ role: 'user', content: [format.text('(continue)')] });
  for (const t of turns) {
    if (t.role === 'user') t.content.sort((a, b) => Number(format.isToolResult(b)) - Number(format.isToolResult(a)));
  }
  return { system, turns };
}

/** The system instruction that stands in for `response_format` where a provider has no JSON mode. */
export function jsonModeInstruction(format: { type?: string; json_schema?: { schema?: unknown } } | undefined): string | null {
  if (format?.type === 'json_object') return 'Respond only with a single valid JSON object, and nothing else.';
  if (format?.type === 'json_schema') return `Respond only with a single valid JSON value matching this JSON schema, and nothing else: ${JSON.stringify(format.json_schema?.schema ?? {})}`;
  return null;
}
