/**
 * A RabbitMQ vhost and the one user with full rights on it, password from the pillar, and no
 * `guest` user — read in one `rabbitmqctl export_definitions` (the Erlang CLI is slow to start).
 * The stored password hash is checked in JS; passwords reach rabbitmqctl on stdin only.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Plan, StateKind, Step } from '../types.js';

export interface RabbitAccessParams {
  vhost: string;
  user: string;
  password: string;
}

interface Definitions {
  vhosts?: { name: string }[];
  users?: { name: string; password_hash: string; hashing_algorithm: string }[];
  permissions?: { user: string; vhost: string; configure: string; write: string; read: string }[];
}

/** RabbitMQ's default hash: base64(salt[4] + sha256(salt + password)). */
export function rabbitHashMatches(hash: string, password: string): boolean {
  const raw = Buffer.from(hash, 'base64');
  if (raw.length !== 36) return false;
  const salt = raw.subarray(0, 4);
  const want = createHash('sha256').update(salt).update(password, 'utf8').digest();
  return timingSafeEqual(want, raw.subarray(4));
}

export const rabbitAccess: StateKind<RabbitAccessParams> = {
  facts: () => `if command -v rabbitmqctl >/dev/null 2>&1; then rabbitmqctl -q export_definitions - 2>/dev/null || echo rabbit=down; else echo rabbit=down; fi`,
  plan(p, f): Plan {
    if (f.out.includes('rabbit=down')) return { status: 'unknown', summary: 'RabbitMQ is not running yet', steps: [] };
    let defs: Definitions;
    try {
      defs = JSON.parse(f.out.slice(f.out.indexOf('{'))) as Definitions;
    } catch {
      return { status: 'unknown', summary: 'could not read the RabbitMQ definitions', steps: [] };
    }
    const steps: Step[] = [];
    const changes: string[] = [];
    if (!(defs.vhosts ?? []).some((v) => v.name === p.vhost)) {
      changes.push(`add vhost ${p.vhost}`);
      steps.push({ run: { argv: ['rabbitmqctl', '-q', 'add_vhost', p.vhost] } });
    }
    const user = (defs.users ?? []).find((u) => u.name === p.user);
    const pw = Buffer.from(`${p.password}\n`);
    if (!user) {
      changes.push(`add user ${p.user}`);
      steps.push({ run: { argv: ['rabbitmqctl', '-q', 'add_user', p.user] }, stdin: pw, describe: `rabbitmqctl add_user ${p.user}` });
    } else if (user.hashing_algorithm !== 'rabbit_password_hashing_sha256' || !rabbitHashMatches(user.password_hash, p.password)) {
      changes.push(`set password of ${p.user}`);
      steps.push({ run: { argv: ['rabbitmqctl', '-q', 'change_password', p.user] }, stdin: pw, describe: `rabbitmqctl change_password ${p.user}` });
    }
    const perm = (defs.permissions ?? []).find((x) => x.user === p.user && x.vhost === p.vhost);
    if (!perm || perm.configure !== '.*' || perm.write !== '.*' || perm.read !== '.*') {
      changes.push(`grant ${p.user} on ${p.vhost}`);
      steps.push({ run: { argv: ['rabbitmqctl', '-q', 'set_permissions', '-p', p.vhost, p.user, '.*', '.*', '.*'] } });
    }
    if ((defs.users ?? []).some((u) => u.name === 'guest')) {
      changes.push('remove guest');
      steps.push({ run: { argv: ['rabbitmqctl', '-q', 'delete_user', 'guest'] } });
    }
    if (steps.length === 0) return { status: 'ok', summary: `${p.vhost}: ${p.user}, no guest`, steps };
    return { status: 'change', summary: changes.join(', '), steps };
  },
};
