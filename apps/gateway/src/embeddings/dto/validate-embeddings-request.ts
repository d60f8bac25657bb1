import { firstValidationProblem, InvalidRequestError } from '@tokenhub/common';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { EmbeddingsRequestDto } from './embeddings-request.dto';

/** Validates an embeddings request body; a 400 naming the field otherwise. */
export async function validateEmbeddingsRequest(body: unknown): Promise<EmbeddingsRequestDto> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new InvalidRequestError('The request body must be a JSON object.');
  const dto = plainToInstance(EmbeddingsRequestDto, body, { enableImplicitConversion: false });
  const problem = firstValidationProblem(await validate(dto, { forbidUnknownValues: false }));
  if (problem) throw new InvalidRequestError(problem.message, problem.param, 'invalid_value');
  return dto;
}

/** The input as texts, or as token-id arrays (`texts` then empty). */
export function splitInput(input: EmbeddingsRequestDto['input']): { texts: string[]; tokens?: number[][] } {
  if (typeof input === 'string') return { texts: [input] };
  if (typeof input[0] === 'string') return { texts: input as string[] };
  if (typeof input[0] === 'number') return { texts: [], tokens: [input as number[]] };
  return { texts: [], tokens: input as number[][] };
}

/**
 * The request as governance's estimator reads it (it counts chat messages): one message per
 * input, so token limits and budgets see the texts; no output.
 */
export function estimationBody(texts: string[], tokens: number[][] | undefined): Record<string, unknown> {
  const messages = tokens ? tokens.map((t) => ({ content: 'x'.repeat(t.length * 4) })) : texts.map((content) => ({ content }));
  return { messages, max_tokens: 1 };
}

/** OpenAI's base64 encoding of a vector: its little-endian float32 bytes. */
export function toBase64(vector: number[]): string {
  const bytes = Buffer.allocUnsafe(vector.length * 4);
  for (let i = 0; i < vector.length; i++) bytes.writeFloatLE(vector[i], i * 4);
  return bytes.toString('base64');
}
