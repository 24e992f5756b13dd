/** Debian packages and extra apt repositories (signed). */
import type { Plan, StateKind } from '../types.js';
import { q } from '../facts-format.js';

export interface PkgParams {
  names: string[];
}

/** Refreshes the package lists when they are missing or older than a day, then installs. */
function installScript(names: string[]): string {
  const list = names.map(q).join(' ');
  return [
    'export DEBIAN_FRONTEND=noninteractive',
    `[ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages' -mmin -1440 2>/dev/null | head -n 1)" ] || apt-get update -q`,
    `apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confold ${list} || { apt-get update -q && apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confold ${list}; }`,
  ].join('\n');
}

export const pkg: StateKind<PkgParams> = {
  facts: (p) => `dpkg-query -W -f='\${Package}\\t\${db:Status-Abbrev}\\n' -- ${p.names.map(q).join(' ')} 2>/dev/null; true`,
  plan(p, f): Plan {
    const installed = new Set(
      f.out
        .split('\n')
        .map((l) => l.split('\t'))
        .filter(([, status]) => status?.trim() === 'ii')
        .map(([name]) => name),
    );
    const missing = p.names.filter((n) => !installed.has(n));
    if (missing.length === 0) return { status: 'ok', summary: 'installed', steps: [] };
    return { status: 'change', summary: `install ${missing.join(' ')}`, steps: [{ run: { argv: ['sh', '-c', installScript(missing)] }, describe: `apt-get install ${missing.join(' ')}` }] };
  },
};

export interface AptRepoParams {
  name: string;
  /** The repository's signing key (armored or binary), stored as /etc/apt/keyrings/<name>.gpg|.asc. */
  key: Buffer;
  uris: string;
  suites: string;
  components: string;
}

function keyPath(p: AptRepoParams): string {
  return `/etc/apt/keyrings/ops-${p.name}.${p.key.includes(Buffer.from('-----BEGIN PGP')) ? 'asc' : 'gpg'}`;
}

export function sourcesFile(p: AptRepoParams): string {
  return `# managed by ops\nTypes: deb\nURIs: ${p.uris}\nSuites: ${p.suites}\nComponents: ${p.components}\nSigned-By: ${keyPath(p)}\n`;
}

/** Keyring + deb822 sources file; the repo's lists are refreshed when either changes. */
export const aptRepo: StateKind<AptRepoParams> = {
  facts: (p) => {
    const src = q(`/etc/apt/sources.list.d/ops-${p.name}.sources`);
    return `for f in ${q(keyPath(p))} ${src}; do if [ -f "$f" ]; then sha256sum < "$f" | cut -c1-64; else echo missing; fi; done`;
  },
  plan(p, f): Plan {
    const [keyHash, srcHash] = f.out.trim().split('\n');
    const want = [sha(p.key), sha(Buffer.from(sourcesFile(p)))];
    if (keyHash === want[0] && srcHash === want[1]) return { status: 'ok', summary: 'configured', steps: [] };
    const srcPath = `/etc/apt/sources.list.d/ops-${p.name}.sources`;
    return {
      status: 'change',
      summary: keyHash === 'missing' ? 'add repository' : 'update repository',
      steps: [
        { run: { argv: ['mkdir', '-p', '/etc/apt/keyrings'] } },
        { upload: { path: keyPath(p), content: p.key, mode: 0o644, owner: 'root', group: 'root' } },
        { upload: { path: srcPath, content: Buffer.from(sourcesFile(p)), mode: 0o644, owner: 'root', group: 'root' } },
        // Refresh only this repository, and fail on any error (a bad signature included).
        {
          run: {
            argv: [
              'sh',
              '-c',
              'set -e; d=$(mktemp -d); trap \'rm -rf "$d"\' EXIT; ln -s "$1" "$d/"; out=$(apt-get update -q -o Dir::Etc::sourcelist=/dev/null -o Dir::Etc::sourceparts="$d" -o APT::Get::List-Cleanup=0 2>&1) || { echo "$out" >&2; exit 1; }; if echo "$out" | grep -qE "^(W|E): "; then echo "$out" >&2; exit 1; fi',
              'ops-apt-update',
              srcPath,
            ],
          },
          describe: `apt-get update (${p.name} only)`,
        },
      ],
    };
  },
};

import { createHash } from 'node:crypto';
function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}
