import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** `length` characters of base62 from the system CSPRNG (rejection sampling, no modulo bias). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += ALPHABET[byte % 62];
    }
  }
  return out;
}

export const VIRTUAL_KEY_PREFIX = 'sk-bf-';
export const newVirtualKey = () => `${VIRTUAL_KEY_PREFIX}${randomBase62(40)}`;
export const newAdminKey = () => `sk-th-admin-${randomBase62(40)}`;

/** Keys are long random secrets, so a plain SHA-256 is the right hash (no salt or stretching needed). */
export const hashSecret = (secret: string) => createHash('sha256').update(secret).digest('hex');

export function sameHash(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}
