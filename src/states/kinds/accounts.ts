/** Unix users and groups. */
import type { Plan, StateKind } from '../types.js';
import { kv, q } from '../facts-format.js';

export interface GroupParams {
  name: string;
  system?: boolean;
}

export const group: StateKind<GroupParams> = {
  facts: (p) => `getent group ${q(p.name)} >/dev/null && echo exists=1; true`,
  plan: (p, f) =>
    kv(f.out).exists === '1'
      ? { status: 'ok', summary: 'exists', steps: [] }
      : { status: 'change', summary: 'create', steps: [{ run: { argv: ['groupadd', ...(p.system ? ['--system'] : []), p.name] } }] },
};

export interface UserParams {
  name: string;
  system?: boolean;
  home: string;
  shell: string;
  /** Supplementary groups (exactly these, besides the primary one). */
  groups?: string[];
}

export const user: StateKind<UserParams> = {
  facts: (p) =>
    `if e=$(getent passwd ${q(p.name)}); then echo exists=1; printf 'home=%s\\nshell=%s\\n' "$(echo "$e" | cut -d: -f6)" "$(echo "$e" | cut -d: -f7)"; printf 'groups=%s\\n' "$(id -nG ${q(p.name)} | tr ' ' '\\n' | sed 1d | sort | tr '\\n' ',')"; fi`,
  plan(p, f): Plan {
    const facts = kv(f.out);
    const groups = [...(p.groups ?? [])].sort();
    const groupArgs = groups.length > 0 ? ['-G', groups.join(',')] : [];
    if (facts.exists !== '1') {
      const argv = ['useradd', '--create-home', '--home-dir', p.home, '--shell', p.shell, '--user-group', ...(p.system ? ['--system'] : []), ...groupArgs, p.name];
      return { status: 'change', summary: 'create', steps: [{ run: { argv } }] };
    }
    const have = (facts.groups ?? '').split(',').filter(Boolean).sort();
    const changes: string[] = [];
    const argv = ['usermod'];
    if (facts.shell !== p.shell) {
      changes.push(`shell ${facts.shell} → ${p.shell}`);
      argv.push('--shell', p.shell);
    }
    if (have.join(',') !== groups.join(',')) {
      changes.push(`groups ${have.join(',') || '-'} → ${groups.join(',') || '-'}`);
      argv.push('-G', groups.join(','));
    }
    if (changes.length === 0) return { status: 'ok', summary: 'up to date', steps: [] };
    return { status: 'change', summary: changes.join(', '), steps: [{ run: { argv: [...argv, p.name] } }] };
  },
};

/** Where a host records the admins ops made from devs.yml (one name per line): only those are ever locked or removed. */
export const ADMINS_RECORD = '/etc/ops/admins';

export interface AdminsParams {
  /** Admins devs.yml lists now (their accounts are the user states'). */
  listed: string[];
  /** `absent: true` in devs.yml: the account and its home go, if ops made it. */
  absent: string[];
}

interface AccountFacts {
  exists: boolean;
  home: string;
  /** shadow's account expiry (days since 1970; ops locks an account with 1) */
  expire: string;
  keys: boolean;
}

const NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

/**
 * Offboarding: an admin ops made and devs.yml no longer lists is locked out at the next converge —
 * the account expired (sshd and sudo refuse it through PAM), its authorized_keys removed; the
 * home stays. `absent: true` removes the account and its home. Accounts ops never made (not in
 * the host's record) are never touched. An admin listed again is let in again.
 */
export const admins: StateKind<AdminsParams> = {
  facts: (p) =>
    [
      `f=${q(ADMINS_RECORD)}`,
      `printf 'recorded=%s\\n' "$( [ -f "$f" ] && tr '\\n' ',' < "$f")"`,
      `for u in $( [ -f "$f" ] && cat "$f") ${[...p.listed, ...p.absent].map(q).join(' ')}; do`,
      `  case "$u" in ''|*[!a-z0-9_-]*) continue;; esac`,
      `  if e=$(getent passwd "$u"); then h=$(printf '%s' "$e" | cut -d: -f6); x=$(getent shadow "$u" | cut -d: -f8); k=0; [ -s "$h/.ssh/authorized_keys" ] && k=1; printf 'account=%s:1:%s:%s:%s\\n' "$u" "$x" "$k" "$h"; else printf 'account=%s:0:::\\n' "$u"; fi`,
      'done',
    ].join('\n'),
  plan(p, f): Plan {
    const recorded = new Set<string>();
    const accounts = new Map<string, AccountFacts>();
    for (const line of f.out.split('\n')) {
      if (line.startsWith('recorded=')) for (const n of line.slice(9).split(',')) if (NAME.test(n)) recorded.add(n);
      if (line.startsWith('account=')) {
        const [name = '', exists, expire = '', keys, ...home] = line.slice(8).split(':');
        accounts.set(name, { exists: exists === '1', expire, keys: keys === '1', home: home.join(':') });
      }
    }
    const steps: Plan['steps'] = [];
    const done: string[] = [];
    const listed = new Set(p.listed);
    for (const name of [...recorded].sort()) {
      const a = accounts.get(name);
      if (listed.has(name) || !a?.exists) continue;
      if (p.absent.includes(name)) {
        steps.push({ run: { argv: ['userdel', '--remove', '--force', name] }, describe: `remove ${name} and its home` });
        done.push(`remove ${name}`);
      } else if (a.expire !== '1' || a.keys) {
        steps.push({ run: { argv: ['usermod', '--lock', '--expiredate', '1', name] }, describe: `lock ${name}` });
        if (a.keys) steps.push({ run: { argv: ['rm', '-f', '--', `${a.home}/.ssh/authorized_keys`] }, describe: `remove the keys of ${name}` });
        done.push(`lock ${name}`);
      }
    }
    for (const name of p.listed) {
      const a = accounts.get(name);
      if (a?.exists && a.expire === '1') {
        steps.push({ run: { argv: ['usermod', '--expiredate', '', name] }, describe: `let ${name} in again` });
        done.push(`unlock ${name}`);
      }
    }
    // the record: every admin ops made and keeps (a removed one leaves it)
    const keep = [...new Set([...recorded, ...p.listed])].filter((n) => !(p.absent.includes(n) && !p.listed.includes(n))).sort();
    const have = [...recorded].sort();
    if (keep.join(',') !== have.join(',')) {
      steps.push({ run: { argv: ['sh', '-c', 'mkdir -p /etc/ops && cat > "$1.tmp" && mv -f "$1.tmp" "$1"', 'sh', ADMINS_RECORD] }, stdin: Buffer.from(keep.map((n) => `${n}\n`).join('')), describe: `record the admins ops made (${keep.join(', ') || 'none'})` });
      if (done.length === 0) done.push(`record ${keep.filter((n) => !recorded.has(n)).join(', ') || 'the change'}`);
    }
    if (steps.length === 0) return { status: 'ok', summary: 'up to date', steps: [] };
    return { status: 'change', summary: done.join(', '), steps };
  },
};
