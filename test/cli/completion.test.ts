/**
 * `ops completion bash|zsh|fish`: each script is loaded into its real shell, which is asked for
 * the candidates of a half-typed command line in a repo; the values come from that repo's files.
 * bash and fish are asked the way they ask at a TAB (bash: the completion function with
 * COMP_WORDS/COMP_CWORD; fish: `complete -C`). zsh's completion system only runs inside the line
 * editor, so there the script's function is called with `words`/`CURRENT` set and `compadd`
 * replaced by a function that prints what it is given — a stand-in for the editor, said here.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { OPS, ops, tempDir, tempRepo } from '../support/ops.js';

let repo: string;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
  repo = tempRepo();
  const bin = join(tempDir(), 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'ops'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(OPS)} "$@"\n`);
  chmodSync(join(bin, 'ops'), 0o755);
  env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, NO_COLOR: '1', HOME: tempDir() };
  delete env.OPS_ROOT;
  delete env.OPS_ENV;
});

const lines = (s: string) => s.split('\n').map((l) => l.split('\t')[0] as string).filter(Boolean).sort();

function bash(words: string[], cwd = repo): string[] {
  const script = `source <(ops completion bash)\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})\nCOMP_CWORD=${words.length - 1}\n_ops_complete\nprintf '%s\\n' "\${COMPREPLY[@]}"\n`;
  return lines(execFileSync('bash', ['--norc', '-c', script], { cwd, env }).toString());
}

function zsh(words: string[]): string[] {
  const script = `autoload -U compinit && compinit -u -D\nsource <(ops completion zsh)\ncompadd() { [[ $1 == -- ]] && shift; print -rl -- "$@" }\n_files() { print -r -- FILES }\nwords=(${words.map((w) => `'${w}'`).join(' ')})\nCURRENT=${words.length}\n_ops\n`;
  return lines(execFileSync('zsh', ['-f', '-c', script], { cwd: repo, env }).toString());
}

function fish(words: string[]): string[] {
  const script = `ops completion fish | source\ncomplete -C ${JSON.stringify(words.join(' '))}\n`;
  return lines(execFileSync('fish', ['--no-config', '-c', script], { cwd: repo, env }).toString());
}

const SHELLS = { bash, zsh, fish } as const;

describe.each(Object.keys(SHELLS) as (keyof typeof SHELLS)[])('%s completion', (shell) => {
  const complete = SHELLS[shell];
  it('commands, and a group\'s subcommands', () => {
    expect(complete(['ops', 'de'])).toEqual(['decrypt', 'deploy', 'deploy-key']);
    expect(complete(['ops', 'lab', 'snapshot', ''])).toEqual(['list', 'rm', 'save']);
    expect(complete(['ops', 'comp'])).toEqual(['completion']);
  });

  it("flags of the command and the global ones, hidden ones left out", () => {
    const flags = complete(['ops', 'deploy', 'staging', '--']);
    for (const f of ['--dry-run', '--role', '--host', '--json', '--root', '--help']) expect(flags).toContain(f);
    expect(flags).not.toContain('--only');
  });

  it("the repo's environments, hosts, roles and tasks as values", () => {
    expect(complete(['ops', 'deploy', ''])).toEqual(['lab', 'production', 'staging']);
    expect(complete(['ops', 'deploy', 'production', '--host', 'prod-w'])).toEqual(['prod-web-1', 'prod-web-2', 'prod-worker-1']);
    expect(complete(['ops', 'run', 'production', '--role', 'w'])).toEqual(['web', 'worker']);
    expect(complete(['ops', 'task', 'add'])).toEqual(['add-swap']);
    expect(complete(['ops', 'completion', ''])).toEqual(['bash', 'fish', 'zsh']);
  });
});

describe('completion values', () => {
  it('are read from the repo on this machine: a pillar with an error still completes, a new host shows at once', async () => {
    const broken = join(repo, 'pillar/staging.yml');
    const before = execFileSync('cat', [broken]).toString();
    const withNew = before.replace('servers:\n', 'servers:\n  stg-new-1: {address: 192.0.2.99, roles: [web]}\n');
    expect(withNew).not.toBe(before);
    writeFileSync(broken, `${withNew}\nbad: [unclosed\n`);
    const r = await ops(['__complete', '--', 'deploy', 'staging', '--host', ''], { cwd: repo });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(''); // the file does not parse: no hosts of its own, and no error
    const envs = await ops(['__complete', '--', 'deploy', ''], { cwd: repo });
    expect(envs.stdout).toBe('lab\nproduction\nstaging\n');
    writeFileSync(broken, withNew);
    const again = await ops(['__complete', '--', 'deploy', 'staging', '--host', ''], { cwd: repo });
    expect(again.stdout.split('\n')).toContain('stg-new-1');
    writeFileSync(broken, before);
  });

  it("offers only words that can be values: a pillar's odd keys are left out", async () => {
    const odd = tempRepo();
    writeFileSync(join(odd, 'pillar/staging.yml'), 'servers:\n  "web\\n--evil": {address: 192.0.2.1}\n  "*": {address: 192.0.2.2}\n  "": {address: 192.0.2.3}\n  good-1: {address: 192.0.2.4}\n');
    const r = await ops(['__complete', '--', 'deploy', 'staging', '--host', ''], { cwd: odd });
    expect(r.stdout).toBe('good-1\n');
    // and in bash, nothing is globbed: the candidates are taken line by line as they are
    expect(bash(['ops', 'deploy', 'staging', '--host', ''].map((w) => w), odd)).toEqual(['good-1']);
  });

  it('nothing after --, which is the remote command line', async () => {
    const r = await ops(['__complete', '--', 'run', 'production', '--', 'up'], { cwd: repo });
    expect(r.stdout).toBe('');
  });

  it('an unknown shell is one line, exit 2', async () => {
    const r = await ops(['completion', 'tcsh']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: ops completion takes one of bash, zsh, fish, got 'tcsh'/);
  });
});
