import { firstValidationProblem, InvalidRequestError, safePlainToInstance } from '@tokenhub/common';
import { validate } from 'class-validator';
import { ChatCompletionRequestDto } from './chat-completion-request.dto';

/**
 * Validates a chat request body against the contract. Returns the typed view of it;
 * the raw body, undeclared fields included, is what gets forwarded.
 */
export async function validateChatRequest(body: unknown): Promise<ChatCompletionRequestDto> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidRequestError('The request body must be a JSON object.');
  }
  const dto = safePlainToInstance(ChatCompletionRequestDto, body, { enableImplicitConversion: false });
  // Not `stopAtFirstError`: it would stop at the decorator class-validator runs first (the last
  // written, e.g. ArrayMaxSize), so a missing `messages` would be "no more than 10000 elements".
  const errors = await validate(dto, { forbidUnknownValues: false });
  const problem = firstValidationProblem(errors);
  if (problem) throw new InvalidRequestError(problem.message, problem.param, 'invalid_value');
  // ValidateNested passes an array in place of a message (`[[{...}]]`) without looking at it.
  const nested = dto.messages.findIndex((m) => Array.isArray(m));
  if (nested >= 0) throw new InvalidRequestError(`messages[${nested}] must be an object`, `messages[${nested}]`, 'invalid_value');
  return dto;
}
