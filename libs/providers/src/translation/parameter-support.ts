import { InvalidRequestError } from '@tokenhub/common';

/**
 * Which OpenAI request parameters a wire format cannot honour, and in which values.
 *
 * A rule says whether the value asks for something the provider cannot do: `seed: 7` on
 * Anthropic does, `frequency_penalty: 0` does not (it is the default, so leaving it out
 * changes nothing). ChatService refuses such a request with a 400 naming the provider and
 * the parameter, or, when the caller opts in (`x-tokenhub-drop-params: true` or
 * `TOKENHUB_DROP_PARAMS=true`), removes the parameters and names them in
 * `x-tokenhub-dropped-params`. The translators refuse them too, so nothing reaches a
 * provider with its meaning silently changed.
 */
export type ParameterRules = Readonly<Record<string, (value: unknown, body: Record<string, unknown>) => boolean>>;

const given = (v: unknown) => v !== undefined && v !== null;
const nonZero = (v: unknown) => given(v) && v !== 0;
const truthy = (v: unknown) => given(v) && v !== false;
const nonEmpty = (v: unknown) => given(v) && !(typeof v === 'object' && Object.keys(v as object).length === 0);
const notOne = (v: unknown) => given(v) && v !== 1;
const nonText = (v: unknown) => Array.isArray(v) && v.some((m) => m !== 'text');

/** What no native format here has: audio output, predicted outputs, OpenAI's hosted web search, the legacy `functions`. */
const OPENAI_ONLY: ParameterRules = {
  audio: given,
  modalities: nonText,
  prediction: given,
  web_search_options: given,
  functions: given,
  function_call: given,
  logit_bias: nonEmpty,
  top_logprobs: nonZero,
};

/**
 * One answer, no seed, no penalties, no log probabilities: Anthropic Messages (also Claude
 * on Vertex AI) and Bedrock Converse, whose inferenceConfig has only maxTokens,
 * temperature, topP and stopSequences.
 */
const SAMPLING_BASICS_ONLY: ParameterRules = {
  ...OPENAI_ONLY,
  n: notOne,
  seed: given,
  frequency_penalty: nonZero,
  presence_penalty: nonZero,
  logprobs: truthy,
};
export const ANTHROPIC_PARAMETERS = SAMPLING_BASICS_ONLY;
export const BEDROCK_PARAMETERS = SAMPLING_BASICS_ONLY;

/** Gemini generateContent (also Gemini on Vertex AI): has seed, penalties and candidateCount, but not several candidates in a stream. */
export const GEMINI_PARAMETERS: ParameterRules = {
  ...OPENAI_ONLY,
  logprobs: truthy,
  n: (v, body) => body.stream === true && typeof v === 'number' && v > 1,
};

/** Cohere Chat v2: has seed and penalties; one answer; its log probabilities are not translated. */
export const COHERE_PARAMETERS: ParameterRules = {
  ...OPENAI_ONLY,
  n: notOne,
  logprobs: truthy,
};

/** The parameters of `body` that `rules` say the provider cannot honour, in the order of the rules. */
export function unsupportedParameters(rules: ParameterRules, body: Record<string, unknown>): string[] {
  const found: string[] = [];
  for (const param in rules) {
    if (rules[param](body[param], body)) found.push(param);
  }
  return found;
}

/** The 400 for a parameter a provider cannot honour. */
export function unsupportedParameterError(provider: string, param: string): InvalidRequestError {
  return new InvalidRequestError(
    `Provider ${provider} does not support the parameter '${param}' with this value. ` +
      `Remove it, or send the header 'x-tokenhub-drop-params: true' to have it dropped.`,
    param,
    'unsupported_parameter',
  );
}

/** Throws the 400 for the first parameter of `body` the provider cannot honour. */
export function refuseUnsupported(provider: string, rules: ParameterRules, body: Record<string, unknown>): void {
  const [first] = unsupportedParameters(rules, body);
  if (first) throw unsupportedParameterError(provider, first);
}
