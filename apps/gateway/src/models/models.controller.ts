import { Controller, Get, Headers } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { AuthService } from '../auth/auth.service';
import { ApiErrorResponses } from '../common/api-error-responses';
import { ModelsService } from './models.service';

class ModelView {
  @ApiProperty({ example: 'openai/gpt-4o', description: '`provider/model`, as `model` in a chat completion takes it.' }) id: string;
  @ApiProperty({ enum: ['model'] }) object: 'model';
  @ApiProperty({ example: 1761955200, description: 'Unix seconds: the release of the model catalog that lists it.' }) created: number;
  @ApiProperty({ example: 'openai', description: 'The provider serving it.' }) owned_by: string;
}

class ModelListView {
  @ApiProperty({ enum: ['list'] }) object: 'list';
  @ApiProperty({ type: [ModelView] }) data: ModelView[];
}

@ApiTags('models')
@ApiBearerAuth()
@Controller('v1/models')
export class ModelsController {
  constructor(
    private readonly auth: AuthService,
    private readonly models: ModelsService,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'List the models the caller may use',
    description:
      'OpenAI-compatible. The catalog models of the providers configured on this gateway, less those the allowed models of the key, ' +
      'its team or customer exclude; the admin key sees all. Models of providers without catalog entries (Azure OpenAI deployments, ' +
      'self-hosted servers) are not listed but can still be requested as `provider/model`.',
  })
  @ApiOkResponse({ type: ModelListView })
  @ApiErrorResponses(401, 403, 500)
  async list(@Headers('authorization') authorization: string | undefined) {
    const principal = await this.auth.authenticate(authorization);
    return this.models.list(principal);
  }
}
