/** Drives the built CLI as a user would, in throw-away copies of the example repo. */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { asksJson, eventProblems } from './events.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const OPS = join(ROOT, 'dist', 'ops.mjs');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  input?: string | Buffer;
  node?: string[];
  /** Another copy of the bundle to run. */
  bundle?: string;
  /** Called with all of stdout so far, each time more arrives (to act at a point of a run). */
  onStdout?: (soFar: string) => void;
  /**
   * A run still going after this long (default 12 minutes, under a host test's 15) is stopped
   * (SIGINT, then SIGKILL 15 s later) and the call fails with what it printed so far and the
   * processes it had running then, so that a hang says where it hung.
   */
  timeoutMs?: number;
}

const TIMEOUT_MS = 12 * 60_000;

/** Where Node writes the diagnostic report of a run that hangs (SIGUSR2, see `ops()`). */
const REPORTS = mkdtempSync(join(tmpdir(), 'ops-reports-'));
const REPORT_FLAGS = ['--report-on-signal', '--report-signal=SIGUSR2', `--report-directory=${REPORTS}`];

/**
 * What a hung run was waiting on, from Node's diagnostic report: its open handles (sockets with
 * their peers, child processes, timers) and the JavaScript stack.
 */
function hangReport(pid: number): string {
  const file = readdirSync(REPORTS).find((n) => n.includes(`.${pid}.`) && n.endsWith('.json'));
  if (!file) return '(no diagnostic report)';
  try {
    const r = JSON.parse(readFileSync(join(REPORTS, file), 'utf8')) as {
      javascriptStack?: { stack?: string[] };
      libuv?: { type: string; is_active?: boolean; localEndpoint?: { port?: number }; remoteEndpoint?: { host?: string; port?: number }; pid?: number; repeat?: number; firesInAbsoluteTime?: number }[];
    };
    const handles = (r.libuv ?? [])
      .filter((h) => h.is_active !== false && !['async', 'check', 'prepare', 'idle', 'loop', 'signal'].includes(h.type))
      .map((h) => `  ${h.type}${h.remoteEndpoint ? ` → ${h.remoteEndpoint.host}:${h.remoteEndpoint.port}` : ''}${h.pid ? ` pid ${h.pid}` : ''}`);
    return `open handles:\n${handles.join('\n')}\nstack:\n  ${(r.javascriptStack?.stack ?? []).join('\n  ')}`;
  } finally {
    rmSync(join(REPORTS, file), { force: true });
  }
}
afterAll(() => {
  if (existsSync(REPORTS) && readdirSync(REPORTS).length === 0) rmSync(REPORTS, { recursive: true, force: true });
});

/** The processes below `pid` (pid and command line each). */
function processesUnder(pid: number): { pid: number; line: string }[] {
  let table: string;
  try {
    table = execFileSync('ps', ['-e', '-o', 'pid=,ppid=,etime=,args='], { encoding: 'utf8' });
  } catch (e) {
    return [{ pid: 0, line: `(ps failed: ${String(e)})` }];
  }
  const rows = table.split('\n').flatMap((l) => {
    const m = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l);
    return m ? [{ pid: Number(m[1]), ppid: Number(m[2]), line: `${m[1]} ${m[3]}` }] : [];
  });
  const tree = new Set([pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const r of rows) if (!tree.has(r.pid) && tree.has(r.ppid)) grew = tree.add(r.pid).size > 0;
  }
  return rows.filter((r) => tree.has(r.pid));
}

export function ops(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const [cmd, ...pre] = opts.node ?? [process.execPath, ...REPORT_FLAGS];
  return new Promise((resolve, reject) => {
    const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', OPS_ENV: undefined, OPS_ROOT: undefined, OPS_KEY_FILE: undefined, OPS_KEY_PASSPHRASE: undefined, ...opts.env };
    for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
    const child = spawn(cmd ?? process.execPath, [...pre, opts.bundle ?? OPS, ...args], { cwd: opts.cwd ?? ROOT, env: env as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => {
      out.push(b);
      opts.onStdout?.(Buffer.concat(out).toString('utf8'));
    });
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const limit = opts.timeoutMs ?? TIMEOUT_MS;
    let hung: { pid: number; line: string }[] | undefined;
    let report = '';
    const finish = (code: number | null) => {
      clearTimeout(watchdog);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (hung === undefined) {
        const problems = asksJson(args) ? eventProblems(stdout) : [];
        if (problems.length > 0) return reject(new Error(`ops ${args.join(' ')}: its --json output breaks the event catalogue (src/ui/events.ts):\n  ${problems.join('\n  ')}`));
        return resolve({ code: code ?? -1, stdout, stderr });
      }
      const list = hung.map((p) => `  ${p.line}`).join('\n');
      reject(new Error(`ops ${args.join(' ')}: still running after ${Math.round(limit / 1000)} s, stopped; its processes then:\n${list}\n${report}\n--- stdout:\n${stdout}\n--- stderr:\n${stderr}`));
    };
    const watchdog = setTimeout(() => {
      const tree = processesUnder(child.pid ?? 0);
      hung = tree;
      if (opts.node === undefined) child.kill('SIGUSR2'); // the report of what it waits on
      setTimeout(() => {
        report = opts.node === undefined ? hangReport(child.pid ?? 0) : '';
        child.kill('SIGINT');
      }, 2000);
      const kill = setTimeout(() => {
        for (const p of tree) {
          try {
            process.kill(p.pid, 'SIGKILL');
          } catch {
            // gone already
          }
        }
      }, 15_000);
      // what it started may hold its output open: the run ends when ops itself has exited
      child.once('exit', (code) => {
        clearTimeout(kill);
        setTimeout(() => {
          child.stdout.destroy();
          child.stderr.destroy();
          finish(code);
        }, 1000);
      });
    }, limit);
    child.on('error', reject);
    child.on('close', (code) => {
      if (hung === undefined) finish(code);
    });
    child.stdin.end(opts.input ?? '');
  });
}

const made: string[] = [];
afterAll(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A temp folder holding a copy of the example pillar/ (and templates/), for commands that write. */
export function tempRepo(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ops-test-'));
  made.push(dir);
  cpSync(join(ROOT, 'pillar'), join(dir, 'pillar'), { recursive: true });
  cpSync(join(ROOT, 'tasks'), join(dir, 'tasks'), { recursive: true });
  return dir;
}

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ops-tmp-'));
  made.push(dir);
  return dir;
}
