import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** Response shapes, for the API documentation only: bodies come from the provider as OpenAI sends them. */
class ChatCompletionMessage {
  @ApiProperty({ example: 'assistant' }) role: string;
  @ApiProperty({ nullable: true, type: String, example: "I'm doing well, thank you! How can I help you today?" }) content: string | null;
  @ApiPropertyOptional({ type: 'array', items: { type: 'object' } }) tool_calls?: object[];
}

class ChatCompletionChoice {
  @ApiProperty({ example: 0 }) index: number;
  @ApiProperty({ type: ChatCompletionMessage }) message: ChatCompletionMessage;
  @ApiProperty({ enum: ['stop', 'length', 'tool_calls', 'content_filter'], example: 'stop' }) finish_reason: string;
  @ApiPropertyOptional({ nullable: true, type: 'object', additionalProperties: true }) logprobs?: object | null;
}

class CompletionUsage {
  @ApiProperty({ example: 13 }) prompt_tokens: number;
  @ApiProperty({ example: 14 }) completion_tokens: number;
  @ApiProperty({ example: 27 }) total_tokens: number;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, example: { cached_tokens: 0 } }) prompt_tokens_details?: object;
}

export class ChatCompletionResponse {
  @ApiProperty({ example: 'chatcmpl-9xYz' }) id: string;
  @ApiProperty({ example: 'chat.completion' }) object: string;
  @ApiProperty({ example: 1764000000 }) created: number;
  @ApiProperty({ example: 'gpt-4o-2024-08-06' }) model: string;
  @ApiProperty({ type: [ChatCompletionChoice] }) choices: ChatCompletionChoice[];
  @ApiProperty({ type: CompletionUsage }) usage: CompletionUsage;
}
