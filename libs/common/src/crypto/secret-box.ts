import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

/** The sealed secret could not be opened: a different key, or the bytes were altered. */
export class SecretBoxError extends Error {}

/**
 * Authenticated encryption for secrets at rest (AES-256-GCM). Each secret gets a fresh
 * random 12-byte IV; the sealed form is `iv | tag | ciphertext`, so one bytea column
 * holds everything needed to open it, given the key.
 */
export class SecretBox {
  private readonly key: Buffer;

  constructor(key: Buffer) {
    if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) throw new SecretBoxError(`the encryption key must be ${KEY_BYTES} bytes`);
    // A private copy: the caller's buffer may be reused or zeroed.
    this.key = Buffer.from(key);
  }

  seal(plaintext: string): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), ciphertext]);
  }

  /** Opens `iv | tag | ciphertext` (a Buffer, or the Uint8Array some drivers return for bytea). */
  open(data: Uint8Array): string {
    if (!ArrayBuffer.isView(data)) throw new SecretBoxError('sealed secret is not binary');
    const sealed = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (sealed.length < IV_BYTES + TAG_BYTES) throw new SecretBoxError('sealed secret is truncated');
    const iv = sealed.subarray(0, IV_BYTES);
    const tag = sealed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretBoxError('sealed secret could not be opened: wrong key or altered data');
    }
  }
}

/** The last 4 characters of a secret, to tell secrets apart (nothing for a secret too short to spare them). */
export function secretHint(secret: string): string {
  return secret.length >= 8 ? secret.slice(-4) : '';
}
