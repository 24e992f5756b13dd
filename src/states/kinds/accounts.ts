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
