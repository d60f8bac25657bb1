import { randomBytes } from 'node:crypto';
import { SecretBox, SecretBoxError, secretHint } from './secret-box';

describe('SecretBox (AES-256-GCM)', () => {
  const key = randomBytes(32);
  const box = new SecretBox(key);

  it('round-trips a secret, with a fresh IV each time', () => {
    const a = box.seal('sk-live-secret-value');
    const b = box.seal('sk-live-secret-value');
    expect(box.open(a)).toBe('sk-live-secret-value');
    expect(a.equals(b)).toBe(false);
    expect(a.subarray(0, 12).equals(b.subarray(0, 12))).toBe(false);
    expect(a.length).toBe(12 + 16 + Buffer.byteLength('sk-live-secret-value'));
    expect(a.includes(Buffer.from('sk-live-secret-value'))).toBe(false);
  });

  it('refuses a different key and altered bytes', () => {
    const sealed = box.seal('sk-live-secret-value');
    expect(() => new SecretBox(randomBytes(32)).open(sealed)).toThrow(SecretBoxError);
    const altered = Buffer.from(sealed);
    altered[altered.length - 1] ^= 1;
    expect(() => box.open(altered)).toThrow(SecretBoxError);
    expect(() => box.open(sealed.subarray(0, 20))).toThrow(SecretBoxError);
  });

  it('takes 32-byte keys only', () => {
    expect(() => new SecretBox(randomBytes(16))).toThrow(/32 bytes/);
  });

  it('hints with the last 4 characters', () => {
    expect(secretHint('sk-proj-abcdefWXYZ')).toBe('WXYZ');
    expect(secretHint('short')).toBe('');
  });
});
