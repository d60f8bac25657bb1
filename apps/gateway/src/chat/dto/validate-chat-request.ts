import { firstValidationProblem, InvalidRequestError, safePlainToInstance } from '@tokenhub/common';
import { getMetadataStorage, validate } from 'class-validator';
import { ChatCompletionRequestDto } from './chat-completion-request.dto';
import { ChatMessageDto } from './chat-message.dto';
import { isPlainValidChatRequest } from './plain-chat-request';

/** The fields a class declares validation for. */
const declaredFields = (cls: new () => object): string[] => [...new Set(getMetadataStorage().getTargetValidationMetadatas(cls, '', true, false).map((m) => m.propertyName))];
const REQUEST_FIELDS = declaredFields(ChatCompletionRequestDto);
const MESSAGE_FIELDS = declaredFields(ChatMessageDto);
const DECLARED = new Set(REQUEST_FIELDS);

/** An object's own members among `fields`; anything else as it is. */
function pick(value: unknown, fields: string[]): unknown {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return value;
  const picked: Record<string, unknown> = {};
  for (const field of fields) if (Object.hasOwn(value, field)) picked[field] = (value as Record<string, unknown>)[field];
  return picked;
}

/**
 * Validates a chat request body against the contract. Returns the typed view of it;
 * the raw body, undeclared fields included, is what gets forwarded.
 */
export async function validateChatRequest(body: unknown): Promise<ChatCompletionRequestDto> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidRequestError('The request body must be a JSON object.');
  }
  // The common request needs none of class-validator's machinery (see plain-chat-request.ts).
  if (isPlainValidChatRequest(body as Record<string, unknown>, DECLARED)) return body as ChatCompletionRequestDto;
  // Only the declared fields go through class-transformer, which walks (and copies) all it is
  // given: an undeclared field of 5,000 keys or 20,000 items cost milliseconds of CPU per request.
  const view = pick(body, REQUEST_FIELDS) as Record<string, unknown>;
  if (Array.isArray(view.messages)) view.messages = view.messages.map((m) => pick(m, MESSAGE_FIELDS));
  const dto = safePlainToInstance(ChatCompletionRequestDto, view, { enableImplicitConversion: false });
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
