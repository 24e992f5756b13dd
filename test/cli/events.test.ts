/**
 * The --json event catalogue (src/ui/events.ts): docs/json.md is made from it, nothing in src
 * writes a type it does not hold (the type checker sees to `Output.event`), nothing it holds is
 * left unwritten, and the check every test run's --json output goes through can fail. Then the
 * events of the commands that run without hosts, each held to its schema by `ops()`.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/ui/events.js';
import { eventsMarkdown } from '../../src/ui/events-doc.js';
import { eventProblems } from '../support/events.js';
import { ops, ROOT, tempDir, tempRepo } from '../support/ops.js';

const FILE = join(ROOT, 'docs/json.md');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? sources(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : []));
}

const events = (stdout: string) => stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

describe('the event catalogue', () => {
  it('docs/json.md is what the catalogue makes', () => {
    const made = eventsMarkdown();
    if (process.env.OPS_UPDATE_DOCS === '1') writeFileSync(FILE, made);
    expect(readFileSync(FILE, 'utf8') === made, 'docs/json.md differs from src/ui/events.ts: run `npm run docs:json` and commit it').toBe(true);
  });

  it('every type it holds is written somewhere in src', () => {
    const text = sources(join(ROOT, 'src')).filter((f) => !f.endsWith('/ui/events.ts') && !f.endsWith('/ui/events-doc.ts')).map((f) => readFileSync(f, 'utf8')).join('\n');
    const unwritten = Object.keys(EVENTS).filter((t) => !text.includes(`'${t}'`));
    expect(unwritten).toEqual([]);
  });

  it('the check of --json output fails on what breaks it', () => {
    const t = '"time":"2026-12-03T00:00:00.000Z"';
    expect(eventProblems(`{"type":"lock",${t},"message":"waiting"}\n`)).toEqual([]);
    expect(eventProblems(`{"type":"lock",${t},"message":"waiting"}\n{"type":"lo`)).toEqual([]); // a cut last line
    expect(eventProblems(`{"type":"nope",${t}}\n`)[0]).toMatch(/not in the catalogue/);
    expect(eventProblems(`{"type":"lock",${t}}\n`)[0]).toMatch(/lock does not match its schema.*message/);
    expect(eventProblems(`{"type":"lock",${t},"message":"w","extra":1}\n`)[0]).toMatch(/extra/);
    expect(eventProblems(`{"type":"lock","time":"soon","message":"w"}\n`)[0]).toMatch(/not an ISO time/);
    expect(eventProblems('plain text\n')[0]).toMatch(/not JSON/);
    expect(eventProblems(`{"type":"summary",${t},"hosts":1,"ok":true}\n`)[0]).toMatch(/summary does not match/);
  });
});

describe('events of commands that need no host', () => {
  it('encrypt, keygen, deploy-key: the ciphertext and where it went; no plaintext on stdout', async () => {
    const repo = tempRepo();
    const k = await ops(['--json', 'keygen', 'lab'], { cwd: repo });
    expect(k.code, k.stderr).toBe(0);
    const [key] = events(k.stdout);
    expect(key).toMatchObject({ type: 'key', env: 'lab', public_key: 'pillar/keys/lab.asc' });
    expect(k.stderr).toContain(String(key?.fingerprint));
    const plain = 'v4lue-not-on-stdout';
    const w = await ops(['--json', 'encrypt', 'lab', `API_TOKEN=${plain}`, 'OTHER=x', '--write'], { cwd: repo });
    expect(w.code, w.stderr).toBe(0);
    expect(events(w.stdout).map((e) => [e.type, e.name, e.file])).toEqual([['encrypted', 'API_TOKEN', expect.stringMatching(/lab/)], ['encrypted', 'OTHER', expect.stringMatching(/lab/)]]);
    expect(String(events(w.stdout)[0]?.ciphertext)).toMatch(/^-----BEGIN PGP MESSAGE-----/);
    expect(w.stdout + w.stderr).not.toContain(plain);
    const s = await ops(['--json', 'encrypt', 'lab', 'KEY=v'], { cwd: repo });
    expect(events(s.stdout)).toMatchObject([{ type: 'encrypted', name: 'KEY', file: null }]);
    expect(s.stderr).toContain('"KEY": |-'); // the snippet, for a person, on stderr
    const d = await ops(['--json', 'deploy-key', 'lab', '--write'], { cwd: repo });
    expect(d.code, d.stderr).toBe(0);
    expect(events(d.stdout)).toMatchObject([{ type: 'encrypted', name: 'deploy_key', public_line: expect.stringMatching(/^ssh-ed25519 /) }]);
    expect(d.stdout).not.toContain('PRIVATE KEY');
  });

  it('pillar schema and completion: the document in a field', async () => {
    const s = await ops(['--json', 'pillar', 'schema']);
    expect(s.code).toBe(0);
    expect(events(s.stdout)).toMatchObject([{ type: 'pillar_schema', schema: { type: 'object' } }]);
    const c = await ops(['--json', 'completion', 'fish']);
    expect(events(c.stdout)).toMatchObject([{ type: 'completion', shell: 'fish', script: expect.stringContaining('complete -c ops') }]);
    expect(c.stderr).toBe('');
  });

  it('init: the files written and the next commands', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'Procfile'), 'web: ./serve --port $PORT\n');
    const r = await ops(['--json', 'init', dir, '--name', 'shop', '--user', 'ada'], { env: { HOME: tempDir() } });
    expect(r.code, r.stderr).toBe(0);
    const [e] = events(r.stdout);
    expect(e).toMatchObject({ type: 'init', dir, kind: 'procfile', files: expect.arrayContaining(['pillar/project.yml', 'pillar/devs.yml']) });
    expect((e?.next as string[])[0]).toMatch(/^ops setup-master /);
  });

  it("a task's own events are task_events; ssh and manage-shell say they are interactive", async () => {
    const repo = tempRepo();
    writeFileSync(join(repo, 'tasks/say.ts'), "import { defineTask } from 'ops';\nexport default defineTask({ name: 'say', description: 'says', async run(t) { t.event('error', { n: 1 }); } });\n");
    const t = await ops(['--json', 'task', 'say', 'lab'], { cwd: repo });
    expect(t.code, t.stderr).toBe(0);
    expect(events(t.stdout).find((e) => e.type === 'task_event')).toMatchObject({ task: 'say', name: 'error', data: { n: 1 } });
    expect(events(t.stdout).some((e) => e.type === 'error')).toBe(false);
    for (const [cmd, instead, args] of [['ssh', 'run', ['lab', 'lab-1']], ['manage-shell', 'manage-run', ['lab']]] as const) {
      const r = await ops(['--json', cmd, ...args]);
      expect(r.code).toBe(2);
      expect(events(r.stdout).at(-1)).toMatchObject({ type: 'error', message: `ops ${cmd} is interactive: it has no --json output`, hint: expect.stringContaining(`ops --json ${instead} `) });
    }
  });
});
