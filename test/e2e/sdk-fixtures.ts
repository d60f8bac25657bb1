import type OpenAI from 'openai';

/** The function tool the provider fakes answer with two parallel calls (Paris and Tokyo) when asked about the weather. */
export const WEATHER_TOOL = {
  type: 'function' as const,
  function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};

/** A 1×1 PNG as a data URL. */
export const PNG = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

/**
 * A stream as the SDK delivers it, put back together: the tool calls by their OpenAI `index`
 * (with every index seen), the text, each finish reason and the last usage.
 */
export async function collectStream(stream: AsyncIterable<OpenAI.ChatCompletionChunk>) {
  const calls: Array<{ id?: string; name?: string; args: string }> = [];
  const indexes: number[] = [];
  const finish: string[] = [];
  const objects = new Set<string>();
  let text = '';
  let usage: OpenAI.CompletionUsage | undefined;
  for await (const chunk of stream) {
    objects.add(chunk.object);
    usage = chunk.usage ?? usage;
    const choice = chunk.choices[0];
    if (choice?.finish_reason) finish.push(choice.finish_reason);
    text += choice?.delta?.content ?? '';
    for (const tc of choice?.delta?.tool_calls ?? []) {
      indexes.push(tc.index);
      calls[tc.index] ??= { args: '' };
      if (tc.id) calls[tc.index].id = tc.id;
      if (tc.function?.name) calls[tc.index].name = tc.function.name;
      calls[tc.index].args += tc.function?.arguments ?? '';
    }
  }
  return { calls, indexes, finish, text, usage, objects };
}
