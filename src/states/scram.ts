/**
 * PostgreSQL SCRAM-SHA-256 password verifiers, computed by ops: the database is given the
 * verifier (never the password), and ops checks an existing verifier against the pillar's
 * password without asking the server to authenticate anyone.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import saslprep from '@mongodb-js/saslprep';

const ITERATIONS = 4096;

/**
 * The password as PostgreSQL hashes it: SASLprep (RFC 4013: soft hyphens and zero-width spaces
 * mapped to nothing, other spaces to U+0020, NFKC), or the password as it is where SASLprep
 * refuses it (a prohibited or unassigned character), as PostgreSQL's pg_saslprep does.
 */
export function preparedPassword(password: string): string {
  try {
    return saslprep(password);
  } catch {
    return password;
  }
}

function keys(password: string, salt: Buffer, iterations: number): { stored: Buffer; server: Buffer } {
  const salted = pbkdf2Sync(Buffer.from(preparedPassword(password), 'utf8'), salt, iterations, 32, 'sha256');
  const client = createHmac('sha256', salted).update('Client Key').digest();
  return { stored: createHash('sha256').update(client).digest(), server: createHmac('sha256', salted).update('Server Key').digest() };
}

export function scramVerifier(password: string, salt: Buffer = randomBytes(16), iterations = ITERATIONS): string {
  const k = keys(password, salt, iterations);
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${k.stored.toString('base64')}:${k.server.toString('base64')}`;
}

/** Whether `verifier` (as stored in pg_authid) was made from `password`. */
export function scramMatches(verifier: string, password: string): boolean {
  const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(verifier.trim());
  if (!m) return false;
  const k = keys(password, Buffer.from(m[2] ?? '', 'base64'), Number(m[1]));
  const stored = Buffer.from(m[3] ?? '', 'base64');
  const server = Buffer.from(m[4] ?? '', 'base64');
  return stored.length === k.stored.length && server.length === k.server.length && timingSafeEqual(stored, k.stored) && timingSafeEqual(server, k.server);
}
