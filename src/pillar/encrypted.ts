/** Recognising and walking OpenPGP-encrypted values inside pillar data. */
import type { KeyPath } from './source.js';

export const PGP_MESSAGE_RE = /^\s*-----BEGIN PGP MESSAGE-----[\s\S]*-----END PGP MESSAGE-----\s*$/;

export function isEncrypted(value: unknown): value is string {
  return typeof value === 'string' && PGP_MESSAGE_RE.test(value);
}

export interface EncryptedLeaf {
  path: KeyPath;
  armored: string;
}

/** Every encrypted value in `data`, with its key path, in document order. */
export function findEncrypted(data: unknown, base: KeyPath = []): EncryptedLeaf[] {
  const out: EncryptedLeaf[] = [];
  const walk = (v: unknown, path: (string | number)[]) => {
    if (isEncrypted(v)) out.push({ path, armored: v });
    else if (Array.isArray(v)) v.forEach((item, i) => walk(item, [...path, i]));
    else if (v && typeof v === 'object') for (const [k, item] of Object.entries(v)) walk(item, [...path, k]);
  };
  walk(data, [...base]);
  return out;
}

/** Copy of `data` with every encrypted value replaced by `mask`. */
export function maskEncrypted<T>(data: T, mask = '<encrypted>'): T {
  const walk = (v: unknown): unknown => {
    if (isEncrypted(v)) return mask;
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, item]) => [k, walk(item)]));
    return v;
  };
  return walk(data) as T;
}
