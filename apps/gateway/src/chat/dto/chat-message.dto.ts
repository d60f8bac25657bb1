import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, MaxLength, ValidateIf } from 'class-validator';
import { IsMessageContent, IsToolCalls } from './message-content.validator';

export const MESSAGE_ROLES = ['system', 'developer', 'user', 'assistant', 'tool'] as const;

/** One turn of the conversation, as OpenAI's chat completions API takes it. */
export class ChatMessageDto {
  @ApiProperty({
    enum: MESSAGE_ROLES,
    description: '`system` sets the behaviour of the model; `user` is the user\'s input; `assistant` is the model\'s reply. `developer` and `tool` are accepted as OpenAI sends them.',
    example: 'user',
  })
  @IsIn(MESSAGE_ROLES, { message: `role must be one of: ${MESSAGE_ROLES.join(', ')}` })
  role: (typeof MESSAGE_ROLES)[number];

  @ApiPropertyOptional({
    description: 'The text, or an array of content parts (`{"type":"text","text":…}`, `{"type":"image_url","image_url":{"url":…}}`, …). May be null on an assistant turn that carries `tool_calls`.',
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'object' } }],
    nullable: true,
    example: 'Hello, how are you?',
  })
  @ValidateIf((m: ChatMessageDto) => !(m.role === 'assistant' && (m.content === null || m.content === undefined) && m.tool_calls !== undefined))
  @IsMessageContent()
  content?: string | Array<Record<string, unknown>> | null;

  @ApiPropertyOptional({ description: 'An optional name for the participant.' })
  @IsOptional() @IsString() @MaxLength(256)
  name?: string;

  @ApiPropertyOptional({ description: 'Tool calls the assistant made (assistant turns).', type: 'array', items: { type: 'object' } })
  @IsOptional() @IsToolCalls()
  tool_calls?: Array<Record<string, unknown>>;

  @ApiPropertyOptional({ description: 'The tool call this message answers (required on `tool` turns).' })
  @ValidateIf((m: ChatMessageDto) => m.role === 'tool' || m.tool_call_id !== undefined)
  @IsString({ message: 'tool_call_id is required on a tool message and must be a string' })
  tool_call_id?: string;
}
