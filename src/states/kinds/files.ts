/** Files, directories and symlinks. File content always travels by SFTP, never in a command line. */
import type { FactResult, Plan, StateKind } from '../types.js';
import { kv, octal, q, sha256, statSnippet } from '../facts-format.js';

export interface FileParams {
  path: string;
  content: Buffer;
  mode: number;
  owner?: string;
  group?: string;
}

export const file: StateKind<FileParams> = {
  narrow: true,
  facts: (p) => statSnippet(p.path, true),
  plan(p, f: FactResult): Plan {
    const owner = p.owner ?? 'root';
    const group = p.group ?? 'root';
    const facts = kv(f.out);
    const upload = { upload: { path: p.path, content: p.content, mode: p.mode, owner, group } };
    if (facts.exists !== '1') return { status: 'change', summary: 'create', steps: [upload], diffPath: p.path, newContent: p.content };
    if (facts.type !== 'regular file' && facts.type !== 'regular empty file') {
      return { status: 'unknown', summary: `${p.path} exists but is a ${facts.type ?? 'something else'}; not replacing it`, steps: [] };
    }
    if (facts.sha256 !== sha256(p.content)) return { status: 'change', summary: 'update content', steps: [upload], diffPath: p.path, newContent: p.content };
    const fixes: string[] = [];
    if (facts.mode !== octal(p.mode)) fixes.push(`mode ${facts.mode} → ${octal(p.mode)}`);
    if (facts.owner !== owner || facts.group !== group) fixes.push(`owner ${facts.owner}:${facts.group} → ${owner}:${group}`);
    if (fixes.length === 0) return { status: 'ok', summary: 'up to date', steps: [] };
    return {
      status: 'change',
      summary: fixes.join(', '),
      steps: [{ run: { argv: ['chown', `${owner}:${group}`, p.path] } }, { run: { argv: ['chmod', octal(p.mode), p.path] } }],
    };
  },
};

export interface DirParams {
  path: string;
  mode: number;
  owner?: string;
  group?: string;
}

export const dir: StateKind<DirParams> = {
  narrow: true,
  facts: (p) => statSnippet(p.path, false),
  plan(p, f): Plan {
    const owner = p.owner ?? 'root';
    const group = p.group ?? 'root';
    const facts = kv(f.out);
    const make = [
      { run: { argv: ['mkdir', '-p', p.path] } },
      { run: { argv: ['chown', `${owner}:${group}`, p.path] } },
      { run: { argv: ['chmod', octal(p.mode), p.path] } },
    ];
    if (facts.exists !== '1') return { status: 'change', summary: 'create', steps: make };
    if (facts.type !== 'directory') return { status: 'unknown', summary: `${p.path} exists but is a ${facts.type}; not replacing it`, steps: [] };
    if (facts.mode === octal(p.mode) && facts.owner === owner && facts.group === group) return { status: 'ok', summary: 'up to date', steps: [] };
    return { status: 'change', summary: `mode/owner ${facts.mode} ${facts.owner}:${facts.group} → ${octal(p.mode)} ${owner}:${group}`, steps: make.slice(1) };
  },
};

export interface SymlinkParams {
  path: string;
  target: string;
  /** A file (not a link) at `path` is moved here, then the link made; without it such a file stays and the state is unknown. */
  displace?: string;
}

export const symlink: StateKind<SymlinkParams> = {
  narrow: true,
  facts: (p) => `if [ -L ${q(p.path)} ]; then printf 'target=%s\\n' "$(readlink ${q(p.path)})"; elif [ -e ${q(p.path)} ]; then echo other=1; fi`,
  plan(p, f): Plan {
    const facts = kv(f.out);
    if (facts.target === p.target) return { status: 'ok', summary: 'up to date', steps: [] };
    if (facts.other === '1' && !p.displace) return { status: 'unknown', summary: `${p.path} exists and is not a symlink; not replacing it`, steps: [] };
    // Atomic switch: make the new link beside it, then rename over.
    const tmp = `${p.path}.ops-new`;
    const link = [{ run: { argv: ['ln', '-sfn', p.target, tmp] } }, { run: { argv: ['mv', '-Tf', tmp, p.path] } }];
    // a file that was there is kept (moved aside, never over one kept before)
    if (facts.other === '1' && p.displace) return { status: 'change', summary: `${p.path} (a file) moved to ${p.displace}, → ${p.target}`, steps: [{ run: { argv: ['mv', '-T', '--backup=numbered', '--', p.path, p.displace] } }, ...link] };
    return { status: 'change', summary: facts.target ? `${facts.target} → ${p.target}` : `→ ${p.target}`, steps: link };
  },
};

export interface AbsentParams {
  path: string;
}

export const absent: StateKind<AbsentParams> = {
  narrow: true,
  facts: (p) => `if [ -e ${q(p.path)} ] || [ -L ${q(p.path)} ]; then echo exists=1; fi`,
  plan: (p, f) => (kv(f.out).exists === '1' ? { status: 'change', summary: 'remove', steps: [{ run: { argv: ['rm', '-rf', '--', p.path] } }] } : { status: 'ok', summary: 'absent', steps: [] }),
};
