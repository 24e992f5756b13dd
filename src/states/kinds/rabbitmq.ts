/**
 * A RabbitMQ vhost and the one user with full rights on it, password from the pillar, and no
 * `guest` user. Everything is read in one `rabbitmqctl export_definitions` (the Erlang CLI is
 * slow to start); the stored password hash is checked here, in JS. A change is one
 * `import_definitions` whose JSON (with a password hash computed here, never the password)
 * travels on stdin into a file only root and the broker's user can read, removed after, plus
 * `delete_user guest`. (RabbitMQ 4.0.5, Debian 13's, hangs reading definitions from its own
 * standard input, so the CLI is given a path.)
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Plan, StateKind, Step } from '../types.js';

export interface RabbitAccessParams {
  vhost: string;
  user: string;
  password: string;
}

interface Definitions {
  vhosts?: { name: string }[];
  users?: { name: string; password_hash: string; hashing_algorithm: string; tags?: string[] }[];
  permissions?: { user: string; vhost: string; configure: string; write: string; read: string }[];
}

/** The algorithm RabbitMQ uses by default (and the only one ops writes). */
export const RABBIT_SHA256 = 'rabbit_password_hashing_sha256';

/** RabbitMQ's salted SHA-256: base64(salt[4] + sha256(salt + password as UTF-8)). */
export function rabbitHash(password: string, salt: Buffer = randomBytes(4)): string {
  if (salt.length !== 4) throw new Error('a RabbitMQ password salt has 4 bytes');
  return Buffer.concat([salt, createHash('sha256').update(salt).update(password, 'utf8').digest()]).toString('base64');
}

/** Whether a stored RabbitMQ SHA-256 hash was made from `password`. */
export function rabbitHashMatches(hash: string, password: string): boolean {
  const raw = Buffer.from(hash, 'base64');
  if (raw.length !== 36) return false;
  const salt = raw.subarray(0, 4);
  const want = createHash('sha256').update(salt).update(password, 'utf8').digest();
  return timingSafeEqual(want, raw.subarray(4));
}

/** stdin → a private file → `import_definitions PATH`; the folder goes whatever happens. */
export const IMPORT_SCRIPT = [
  'set -eu',
  'umask 077',
  'd=$(mktemp -d /tmp/ops-rabbitmq.XXXXXX)',
  'trap \'rm -rf "$d"\' EXIT',
  // a dropped session (HUP) or a kill (TERM) ends the shell without running the EXIT trap in dash
  'trap \'exit 1\' HUP INT TERM',
  'cat > "$d/definitions.json"',
  'chown -R rabbitmq:rabbitmq "$d"',
  'rabbitmqctl -q import_definitions --format json "$d/definitions.json"',
].join('\n');

const FULL = { configure: '.*', write: '.*', read: '.*' };

/** Reads the definitions when the broker answers; `rabbit=down` otherwise. */
const FACTS = `if command -v rabbitmqctl >/dev/null 2>&1; then rabbitmqctl -q export_definitions - 2>/dev/null || echo rabbit=down; else echo rabbit=down; fi`;

export function parseDefinitions(out: string): Definitions | undefined {
  const start = out.indexOf('{');
  if (start < 0) return undefined;
  try {
    return JSON.parse(out.slice(start)) as Definitions;
  } catch {
    return undefined;
  }
}

export const rabbitAccess: StateKind<RabbitAccessParams> = {
  facts: () => FACTS,
  plan(p, f): Plan {
    if (f.out.includes('rabbit=down')) return { status: 'unknown', summary: 'RabbitMQ is not running yet', steps: [] };
    const defs = parseDefinitions(f.out);
    if (!defs) return { status: 'unknown', summary: 'could not read the RabbitMQ definitions', steps: [] };
    const changes: string[] = [];
    const wanted: Definitions = {};
    if (!(defs.vhosts ?? []).some((v) => v.name === p.vhost)) {
      changes.push(`add vhost ${p.vhost}`);
      wanted.vhosts = [{ name: p.vhost }];
    }
    const user = (defs.users ?? []).find((u) => u.name === p.user);
    if (!user || user.hashing_algorithm !== RABBIT_SHA256 || !rabbitHashMatches(user.password_hash, p.password)) {
      changes.push(user ? `set password of ${p.user}` : `add user ${p.user}`);
      wanted.users = [{ name: p.user, password_hash: rabbitHash(p.password), hashing_algorithm: RABBIT_SHA256, tags: [] }];
    }
    const perm = (defs.permissions ?? []).find((x) => x.user === p.user && x.vhost === p.vhost);
    if (!perm || perm.configure !== FULL.configure || perm.write !== FULL.write || perm.read !== FULL.read) {
      changes.push(`grant ${p.user} all on ${p.vhost}`);
      wanted.permissions = [{ user: p.user, vhost: p.vhost, ...FULL }];
    }
    const steps: Step[] = [];
    if (changes.length > 0) {
      steps.push({
        run: { argv: ['sh', '-c', IMPORT_SCRIPT] },
        stdin: Buffer.from(JSON.stringify(wanted)),
        describe: `rabbitmqctl import_definitions (${changes.join(', ')})`,
      });
    }
    if ((defs.users ?? []).some((u) => u.name === 'guest')) {
      changes.push('remove guest');
      steps.push({ run: { argv: ['rabbitmqctl', '-q', 'delete_user', 'guest'] } });
    }
    if (steps.length === 0) return { status: 'ok', summary: `vhost ${p.vhost}, user ${p.user}, no guest`, steps };
    return { status: 'change', summary: changes.join(', '), steps };
  },
};
