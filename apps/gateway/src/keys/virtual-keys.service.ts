import { Injectable } from '@nestjs/common';
import { NotFoundError } from '@tokenhub/common';
import { VirtualKeyRepository } from '@tokenhub/store';
import { AuthService } from '../auth/auth.service';
import { hashSecret, newVirtualKey, VIRTUAL_KEY_PREFIX } from '../auth/secrets';
import { CreateVirtualKeyDto } from './dto/create-virtual-key.dto';
import { CreatedVirtualKeyView, VirtualKeyView } from './dto/virtual-key.view';

@Injectable()
export class VirtualKeysService {
  constructor(
    private readonly keys: VirtualKeyRepository,
    private readonly auth: AuthService,
  ) {}

  async create(dto: CreateVirtualKeyDto): Promise<CreatedVirtualKeyView> {
    const key = newVirtualKey();
    const keyHash = hashSecret(key);
    const entity = await this.keys.create({ name: dto.name, keyHash, keyHint: `${VIRTUAL_KEY_PREFIX}…${key.slice(-4)}` });
    this.auth.forget(keyHash);
    return { ...VirtualKeyView.of(entity), key };
  }

  async list(includeRevoked: boolean): Promise<VirtualKeyView[]> {
    return (await this.keys.list(includeRevoked)).map((k) => VirtualKeyView.of(k));
  }

  async get(id: string): Promise<VirtualKeyView> {
    const key = await this.keys.findById(id);
    if (!key) throw new NotFoundError(`No virtual key with id ${id}.`, 'key_not_found');
    return VirtualKeyView.of(key);
  }

  async revoke(id: string): Promise<VirtualKeyView> {
    const key = await this.keys.revoke(id);
    if (!key) throw new NotFoundError(`No virtual key with id ${id}.`, 'key_not_found');
    this.auth.forget(key.keyHash);
    return VirtualKeyView.of(key);
  }
}
