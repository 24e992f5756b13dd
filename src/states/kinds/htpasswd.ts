/** A basic-auth password file (apr1 hashes); a user whose password did not change keeps their hash. */
import type { Plan, StateKind } from '../types.js';
import { q, sha256 } from '../facts-format.js';
import { apr1, apr1Matches } from '../apr1.js';

export interface HtpasswdParams {
  path: string;
  users: Record<string, string>;
  owner: string;
  group: string;
  mode: number;
}

export const htpasswd: StateKind<HtpasswdParams> = {
  narrow: true,
  // The current hashes (not secrets themselves) and the file's owner/mode.
  facts: (p) => `if [ -f ${q(p.path)} ]; then stat -c 'meta=%a %U %G' ${q(p.path)}; cat ${q(p.path)}; fi`,
  plan(p, f): Plan {
    const lines = f.out.split('\n');
    const meta = lines.find((l) => l.startsWith('meta='))?.slice(5);
    const existing = new Map(lines.filter((l) => !l.startsWith('meta=') && l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)] as const));
    const body = Object.entries(p.users)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([user, pw]) => {
        if (/[:\n]/.test(user)) throw new Error(`http_auth user '${user}' may not contain ':' or a newline`);
        const old = existing.get(user);
        return `${user}:${old && apr1Matches(old, pw) ? old : apr1(pw)}`;
      })
      .join('\n');
    const content = Buffer.from(body ? `${body}\n` : '');
    const current = lines.filter((l) => !l.startsWith('meta=')).join('\n');
    const wantMeta = `${p.mode.toString(8)} ${p.owner} ${p.group}`;
    if (meta !== undefined && sha256(current) === sha256(content.toString()) && meta === wantMeta) return { status: 'ok', summary: `${existing.size} user(s), current`, steps: [] };
    return { status: 'change', summary: meta === undefined ? 'create' : 'update users', steps: [{ upload: { path: p.path, content, mode: p.mode, owner: p.owner, group: p.group } }] };
  },
};
