/** Cryptographically random secrets (unbiased: rejection sampling over the alphabet). */
import { randomBytes } from 'node:crypto';
import { UsageError } from '../errors.js';

export const ALPHABETS = {
  alnum: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789',
  hex: '0123456789abcdef',
  // Printable punctuation that needs no quoting in URLs, shells' single quotes or env files.
  strong: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~!@#%^*+=',
} as const;

export type AlphabetName = keyof typeof ALPHABETS;
export const DEFAULT_SECRET_LENGTH = 50;

/** The alphabet --alphabet names (alnum when it names none). */
export function alphabetOption(v: unknown): string {
  const name = (v ?? 'alnum') as string;
  if (!Object.hasOwn(ALPHABETS, name)) throw new UsageError(`--alphabet takes one of ${Object.keys(ALPHABETS).join(', ')}`);
  return ALPHABETS[name as AlphabetName];
}

export function generateSecret(length = DEFAULT_SECRET_LENGTH, alphabet: string = ALPHABETS.alnum): string {
  const n = alphabet.length;
  const limit = 256 - (256 % n);
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(Math.max(16, (length - out.length) * 2))) {
      if (b < limit) out += alphabet[b % n];
      if (out.length === length) break;
    }
  }
  return out;
}
