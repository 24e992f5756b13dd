/**
 * Apache's MD5-based password hashes ($apr1$), which nginx's auth_basic reads — ops computes and
 * checks them itself, so a password never reaches a command line and an unchanged password keeps
 * its hash (deploys stay idempotent).
 */
import { createHash, randomBytes } from 'node:crypto';

const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function md5(...parts: (Buffer | string)[]): Buffer {
  const h = createHash('md5');
  for (const p of parts) h.update(p);
  return h.digest();
}

function to64(v: number, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) {
    out += ITOA64[v & 0x3f];
    v >>= 6;
  }
  return out;
}

export function apr1(password: string, salt: string = randomSalt()): string {
  const pw = Buffer.from(password, 'utf8');
  const s = salt.slice(0, 8);
  const alt = md5(pw, s, pw);
  const parts: Buffer[] = [pw, Buffer.from('$apr1$'), Buffer.from(s)];
  for (let left = pw.length; left > 0; left -= 16) parts.push(alt.subarray(0, Math.min(16, left)));
  for (let i = pw.length; i > 0; i >>= 1) parts.push(i & 1 ? Buffer.from([0]) : pw.subarray(0, 1));
  let fin = md5(...parts);
  for (let i = 0; i < 1000; i++) {
    const round: Buffer[] = [];
    round.push(i & 1 ? pw : fin);
    if (i % 3) round.push(Buffer.from(s));
    if (i % 7) round.push(pw);
    round.push(i & 1 ? fin : pw);
    fin = md5(...round);
  }
  const b = (i: number) => fin[i] ?? 0;
  const enc =
    to64((b(0) << 16) | (b(6) << 8) | b(12), 4) +
    to64((b(1) << 16) | (b(7) << 8) | b(13), 4) +
    to64((b(2) << 16) | (b(8) << 8) | b(14), 4) +
    to64((b(3) << 16) | (b(9) << 8) | b(15), 4) +
    to64((b(4) << 16) | (b(10) << 8) | b(5), 4) +
    to64(b(11), 2);
  return `$apr1$${s}$${enc}`;
}

function randomSalt(): string {
  return [...randomBytes(8)].map((x) => ITOA64[x & 0x3f]).join('');
}

export function apr1Matches(hash: string, password: string): boolean {
  const m = /^\$apr1\$([^$]{1,8})\$/.exec(hash);
  return m !== null && apr1(password, m[1]) === hash;
}
