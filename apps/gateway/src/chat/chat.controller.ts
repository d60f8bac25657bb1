import { Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiExtraModels, ApiHeader, ApiOkResponse, ApiOperation, ApiResponse, ApiTags, getSchemaPath } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ApiErrorResponses, OpenAIErrorResponse } from '../common/api-error-responses';
import { chatRequestFromExpress } from './chat-request';
import { ChatService } from './chat.service';
import { ChatCompletionRequestDto } from './dto/chat-completion-request.dto';
import { ChatCompletionResponse } from './dto/chat-completion-response.dto';

const ROUTING_HEADERS = {
  'x-request-id': { description: 'The request id, also in the usage record.', schema: { type: 'string' } },
  'x-tokenhub-provider': { description: 'The provider that served the answer.', schema: { type: 'string' } },
  'x-tokenhub-model': { description: 'The model that served the answer.', schema: { type: 'string' } },
  'x-tokenhub-attempts': { description: 'How many upstream attempts were made (retries and fallbacks).', schema: { type: 'integer' } },
  'x-tokenhub-dropped-params': { description: 'Parameters the provider cannot honour that were dropped at the caller\'s request (`x-tokenhub-drop-params`), e.g. `seed, logprobs`.', schema: { type: 'string' } },
  'x-ratelimit-limit-requests': { description: 'With a request limit on the key, team or customer: the tightest one.', schema: { type: 'integer' } },
  'x-ratelimit-remaining-requests': { description: 'Requests left in its window, this one counted.', schema: { type: 'integer' } },
  'x-ratelimit-reset-requests': { description: 'Time until its window resets, e.g. `12.5s`.', schema: { type: 'string' } },
  'x-ratelimit-limit-tokens': { description: 'With a token limit: the tightest one.', schema: { type: 'integer' } },
  'x-ratelimit-remaining-tokens': { description: 'Tokens left in its window before this request.', schema: { type: 'integer' } },
  'x-ratelimit-reset-tokens': { description: 'Time until its window resets.', schema: { type: 'string' } },
  'x-tokenhub-cache': {
    description: 'With `prompt_cache_key`: `hit` (the same request was answered before), `semantic-hit` (a similar last question after the same history), `miss`, or `bypass` (`Cache-Control: no-cache`). A hit never reaches the provider.',
    schema: { type: 'string', enum: ['hit', 'semantic-hit', 'miss', 'bypass'] },
  },
  'x-tokenhub-cache-similarity': { description: 'On a `semantic-hit`: the cosine similarity of the stored question, e.g. `0.9731`.', schema: { type: 'string' } },
};

@ApiTags('chat')
@ApiBearerAuth()
@ApiExtraModels(ChatCompletionRequestDto)
@Controller('v1/chat')
export class ChatController {
  constructor(private readonly chat: ChatService) {}

  @Post('completions')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Create a chat completion',
    description:
      'OpenAI-compatible. Authenticate with `Authorization: Bearer <key>` (a virtual key `sk-bf-…` or the admin key). ' +
      'Fields OpenAI accepts that are not listed here (`tools`, `tool_choice`, `response_format`, `seed`, `top_p`, `n`, …) are passed to the provider unchanged.',
  })
  @ApiHeader({ name: 'Content-Type', required: true, schema: { type: 'string', default: 'application/json' } })
  @ApiHeader({
    name: 'Cache-Control',
    required: false,
    description: 'With `prompt_cache_key`: `no-cache` skips the cache lookup and stores the fresh answer; `no-store` does not store this answer.',
    schema: { type: 'string', example: 'no-cache' },
  })
  @ApiHeader({ name: 'x-tokenhub-cache-ttl', required: false, description: 'With `prompt_cache_key`: seconds this answer stays in the cache (1 to 2592000).', schema: { type: 'integer', example: 600 } })
  @ApiHeader({
    name: 'x-tokenhub-drop-params',
    required: false,
    description: '`true`: drop parameters the provider cannot honour (named in `x-tokenhub-dropped-params`) instead of a 400; `false`: refuse them even when `TOKENHUB_DROP_PARAMS` is set.',
    schema: { type: 'string', enum: ['true', 'false'] },
  })
  @ApiBody({
    type: ChatCompletionRequestDto,
    examples: {
      contract: {
        summary: 'The contract example',
        value: { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello, how are you?' }], temperature: 0.7, max_tokens: 100 },
      },
      fallbacks: {
        summary: 'With fallbacks, user and metadata',
        value: {
          model: 'openai/gpt-4o',
          fallbacks: ['groq/llama-3.3-70b-versatile'],
          messages: [
            { role: 'system', content: 'You are a professional assistant' },
            { role: 'user', content: 'Please introduce yourself' },
          ],
          user: 'user-1234',
          metadata: { team: 'search' },
        },
      },
      streaming: { summary: 'Streaming', value: { model: 'openai/gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'Count to five' }] } },
    },
  })
  @ApiOkResponse({
    description: 'A `chat.completion`, or with `stream: true` a `text/event-stream` of `chat.completion.chunk` events ending in `data: [DONE]`.',
    headers: ROUTING_HEADERS,
    content: {
      'application/json': { schema: { $ref: getSchemaPath(ChatCompletionResponse) } },
      'text/event-stream': { schema: { type: 'string', example: 'data: {"object":"chat.completion.chunk",...}\n\ndata: [DONE]\n\n' } },
    },
  })
  @ApiExtraModels(ChatCompletionResponse)
  @ApiResponse({
    status: 402,
    description: 'A budget of the key, its team or customer cannot cover the request\'s worst-case cost (`budget_exceeded`); the message says which and what remains.',
    schema: { $ref: getSchemaPath(OpenAIErrorResponse) },
  })
  @ApiResponse({
    status: 403,
    description: 'The model or a fallback is not among the allowed models of the key, its team or customer (`model_not_allowed`); or the key is inactive or expired.',
    schema: { $ref: getSchemaPath(OpenAIErrorResponse) },
  })
  @ApiErrorResponses(400, 401, 413, 429, 500, 502, 503, 504)
  // `createGatewayApp` serves this path ahead of Express and Nest (the same `ChatService.handle`):
  // this handler describes the endpoint for the API docs and serves only apps built without it.
  async create(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.chat.handle(chatRequestFromExpress(req, res), res);
  }
}
