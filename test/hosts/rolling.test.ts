/**
 * Rolling releases (`releases.batch`) on real lab hosts, booted converged from the run's `demo`
 * snapshot, with three web hosts behind one balancer: lab-3 web+worker, lab-2 db+queue+cache+web,
 * lab-4 balancer+web; lab-1 master. A request loop runs through the balancer during each release.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convergedLab, DEMO } from '../support/converged.js';
import { curlDemo, publishDemoApp, requestLoop } from '../support/demo-app.js';
import { labDown, requireRoot, type LabHostRow } from '../support/lab.js';
import { OPS, ops, tempRepo, type RunResult } from '../support/ops.js';

let repo: string;
let hosts: LabHostRow[];
const addr = (name: string) => hosts.find((h) => h.name === name)?.address ?? '';
const WEBS = ['lab-2', 'lab-3', 'lab-4'];
/** A file that makes the app of the `unhealthy` version answer 500 on the host that has it. */
const MARKER = '/etc/ops-test-unhealthy';

async function opsLab(args: string[], input?: string): Promise<RunResult> {
  return ops(args, { cwd: repo, input });
}

const events = (stdout: string) => stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
/** The release's steps with their times, for a failure's message. */
const timeline = (ev: Record<string, unknown>[]) => ev.filter((e) => e.type === 'release_step').map((e) => `${e.time} ${e.step} ${JSON.stringify(e.hosts ?? '')}`).join('\n');
const steps = (ev: Record<string, unknown>[], step: string) => ev.filter((e) => e.type === 'release_step' && e.step === step);

function setBatch(batch: string): void {
  const file = join(repo, 'pillar/project.yml');
  writeFileSync(file, readFileSync(file, 'utf8').replace(/^releases:\n(?: {2}.*\n)+/m, `releases:\n  keep: 5\n  batch: ${batch}\n`));
}

/** The release each web host's `current` points at. */
async function currentReleases(): Promise<Record<string, string>> {
  const r = await opsLab(['run', 'lab', '--role', 'web', '--', 'basename "$(readlink /var/www/demo/current)"']);
  expect(r.code, r.stderr).toBe(0);
  const out: Record<string, string> = {};
  for (const m of r.stdout.matchAll(/^(lab-\d+)\s+\|\s*(\S+)$/gm)) out[m[1] ?? ''] = m[2] ?? '';
  return out;
}

/** A deploy (`--json`) with a request loop through the balancer from a second before it to a second after it. */
async function deployDuringRequests() {
  // each batch reloads nginx (its upstream changes): HTTP/1.1, as requestLoop says why
  const loop = requestLoop(addr('lab-4'), { http1: true });
  await new Promise((r) => setTimeout(r, 1000));
  const d = await opsLab(['--json', 'deploy', 'lab']);
  await new Promise((r) => setTimeout(r, 1000));
  const seen = await loop.stop();
  const ev = events(d.stdout);
  return { d, ev, release: ev.filter((e) => e.type === 'release').pop() ?? {}, seen };
}

async function upstreamFile(): Promise<string> {
  const r = await opsLab(['run', 'lab', '--host', 'lab-4', '--', 'cat /etc/nginx/demo.upstream.conf']);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

beforeAll(async () => {
  requireRoot();
  repo = tempRepo();
  hosts = await convergedLab(repo, DEMO);
  for (const h of ['lab-2', 'lab-4']) {
    const r = await opsLab(['add-role', 'lab', 'web', '-H', addr(h)]);
    expect(r.code, r.stderr).toBe(0);
  }
  expect((await opsLab(['deploy-key', 'lab', '--write'])).code).toBe(0);
  setBatch('1');
  await publishDemoApp(opsLab);
  const first = await opsLab(['deploy', 'lab']);
  expect(first.code, first.stdout + first.stderr).toBe(0);
});

afterAll(async () => {
  if (repo) await labDown(repo);
});

describe('rolling releases: three web hosts behind one balancer', () => {
  let order: string[] = [];
  let live = '';

  it('--dry-run says what a deploy would do: the release (commit, batches, migrations) and the handlers a changed environment sets off; it changes nothing', async () => {
    const before = await currentReleases();
    await publishDemoApp(opsLab);
    const lab = join(repo, 'pillar/lab.yml');
    writeFileSync(lab, readFileSync(lab, 'utf8').replace(/^env:\n/m, 'env:\n  DEMO_SETTING: dry-1\n'));
    const r = await opsLab(['--json', 'deploy', 'lab', '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    const ev = events(r.stdout);
    const plan = ev.find((e) => e.type === 'release') ?? {};
    expect(plan).toMatchObject({ status: 'would-release', dry_run: true, health: '/healthz', live: [Object.values(before)[0]] });
    expect(String(plan.commit)).toMatch(/^[0-9a-f]{40}$/);
    expect((plan.batches as string[][]).map((b) => b.length)).toEqual([1, 1, 1]);
    expect(plan.before_switch).toEqual([expect.stringMatching(/^migrations on lab-\d$/)]);
    // the env file changes on every app host: each would reload its app gracefully
    const handlers = ev.filter((e) => e.type === 'state' && e.id === 'handler:app-restart');
    expect(handlers.map((h) => h.host).sort()).toEqual(WEBS);
    expect(handlers.every((h) => h.status === 'would-run' && /a graceful reload of demo-web\.service/.test(String(h.summary)))).toBe(true);
    // a handler is not a state: the summary counts the env file (and nothing else changes here)
    const summary = ev.find((e) => e.type === 'summary') ?? {};
    expect(summary.changed).toBe(3);
    const human = await opsLab(['deploy', 'lab', '--dry-run']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout + human.stderr).toMatch(/would release commit [0-9a-f]{12} \(main\) on lab-\d, lab-\d, lab-\d/);
    expect(human.stdout + human.stderr).toMatch(/switch: batch 1: lab-\d → batch 2: lab-\d → batch 3: lab-\d/);
    expect(human.stdout + human.stderr).toMatch(/would run\s+handler:app-restart — the app's running units read the new environment/);
    // status --drift: the same plan, per host
    const st = await opsLab(['--json', 'status', 'lab', '--drift']);
    expect(st.code, st.stderr).toBe(0);
    const rows = new Map(events(st.stdout).filter((e) => e.type === 'host_status').map((e) => [e.host, e]));
    for (const h of WEBS) expect(rows.get(h)?.drift, h).toEqual(['file:/var/www/demo/shared/env']);
    expect(rows.get('lab-1')?.drift).toEqual([]);
    const table = await opsLab(['status', 'lab', '--drift']);
    expect(table.stdout).toMatch(/DRIFT/);
    expect(table.stdout).toMatch(/lab-3: a converge would change .*file:\/var\/www\/demo\/shared\/env/);
    expect(await currentReleases()).toEqual(before);
    expect((await curlDemo(addr('lab-4'), '/')).body).not.toContain('setting: dry-1');
  });

  it('batch: 1 — one host at a time, each out of the upstream and checked on its own app server; no request fails', async () => {
    const before = Object.values(await currentReleases());
    expect(before).toHaveLength(3);
    await publishDemoApp(opsLab);
    const { d, ev, release, seen } = await deployDuringRequests();
    expect(d.code, d.stderr).toBe(0);
    expect(release.status).toBe('released');
    live = String(release.id);
    const batches = steps(ev, 'batch');
    expect(batches.map((b) => [b.batch, b.of])).toEqual([[1, 3], [2, 3], [3, 3]]);
    order = batches.map((b) => (b.hosts as string[])[0] ?? '');
    expect([...order].sort()).toEqual(WEBS);
    expect(steps(ev, 'out-of-upstream').map((e) => e.hosts)).toEqual(order.map((h) => [h]));
    expect(steps(ev, 'into-upstream').map((e) => e.hosts)).toEqual(order.map((h) => [h]));
    // each batch is checked directly on its host, then the whole release through the balancer
    expect(steps(ev, 'health').map((e) => e.hosts ?? e.via)).toEqual([...order.map((h) => [h]), 'balancer']);
    expect(seen.failed, timeline(ev)).toEqual([]);
    expect(seen.ok).toBeGreaterThan(10);
    expect(seen.releases.has(live)).toBe(true);
    expect(seen.releases.has(before[0] ?? '')).toBe(true);
    expect(Object.values(await currentReleases())).toEqual([live, live, live]);
    expect(await upstreamFile()).not.toMatch(/\bdown;/);
  });

  it("ops logs --unit nginx shows the balancer's errors", async () => {
    const tag = `logcheck-${Date.now()}`;
    // a static file that is not there: nginx logs the failed open() (openat() with disable_symlinks) as an error
    expect((await curlDemo(addr('lab-4'), `/static/${tag}.css`)).code).toBe('404');
    await new Promise((r) => setTimeout(r, 500));
    const r = await opsLab(['logs', 'lab', '--host', 'lab-4', '--unit', 'nginx', '--grep', tag]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`nginx\\.service: .*open(?:at)?\\(\\) "/var/www/demo/public/static/${tag}\\.css" failed \\(2: No such file or directory\\)`));
  });

  it('a release whose app fails its health check on the second batch: every host ends on the previous release, none of its 500s reaches a request', async () => {
    const second = order[1] ?? '';
    const third = order[2] ?? '';
    expect((await opsLab(['run', 'lab', '--host', second, '--', `touch ${MARKER}`])).code).toBe(0);
    try {
      await publishDemoApp(opsLab, (dir) => {
        const f = join(dir, 'hits/views.py');
        const guard = `    if os.path.exists("${MARKER}"):\n        return HttpResponse("unhealthy", status=500)\n`;
        writeFileSync(f, readFileSync(f, 'utf8').replace(/^def (index|healthz)\(request\):\n(?: {4}""".*"""\n)?/gm, (m) => `${m}${guard}`));
      });
      const { d, ev, release, seen } = await deployDuringRequests();
      expect(d.code).toBe(1);
      expect(release.status).toBe('rolled-back');
      expect(String(release.error)).toMatch(new RegExp(`health check failed: batch 2 of 3 \\(${second}\\): GET http://127\\.0\\.0\\.1:8000/healthz on ${second} → 500`));
      // the third batch was never reached
      expect(steps(ev, 'batch').map((b) => b.hosts)).toEqual([[order[0]], [second]]);
      expect(ev.some((e) => e.type === 'release_step' && e.step === 'batch' && (e.hosts as string[]).includes(third))).toBe(false);
      expect(Object.values(await currentReleases())).toEqual([live, live, live]);
      // the unhealthy host was out of the upstream while it ran the new code
      expect(seen.failed, timeline(ev)).toEqual([]);
      expect([...seen.releases].every((r) => r === live || r === release.id)).toBe(true);
      expect(await upstreamFile()).not.toMatch(/\bdown;/);
    } finally {
      await opsLab(['run', 'lab', '--host', second, '--', `rm -f ${MARKER}`]);
    }
  });

  it('batch: 50% of three hosts is two, then one', async () => {
    setBatch('"50%"');
    await publishDemoApp(opsLab);
    const { d, ev, release, seen } = await deployDuringRequests();
    expect(d.code, d.stderr).toBe(0);
    expect(release.status).toBe('released');
    expect(steps(ev, 'batch').map((b) => (b.hosts as string[]).length)).toEqual([2, 1]);
    expect(seen.failed).toEqual([]);
    expect(Object.values(await currentReleases())).toEqual([release.id, release.id, release.id]);
  });

  it('a web host that goes down: status says it is unreachable (exit 1); logs -f says so and goes on with its journal once it is back', async () => {
    const child = spawn(process.execPath, [OPS, 'logs', 'lab', '--host', 'lab-3', '--unit', 'web', '-f', '-n', '1'], { cwd: repo, env: { ...process.env, NO_COLOR: '1' } });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (out += b.toString('utf8')));
    const until = async (what: RegExp, seconds: number) => {
      for (let i = 0; i < seconds * 2 && !what.test(out); i++) await new Promise((r) => setTimeout(r, 500));
      return what.test(out);
    };
    try {
      expect(await until(/demo-web\.service:/, 10), out).toBe(true);
      expect((await opsLab(['lab', 'stop', 'lab-3'])).code).toBe(0);
      const st = await opsLab(['--json', 'status', 'lab']);
      expect(st.code).toBe(1);
      const row = events(st.stdout).find((e) => e.type === 'host_status' && e.host === 'lab-3');
      expect(row?.reachable).toBe(false);
      const table = await opsLab(['status', 'lab']);
      expect(table.code).toBe(1);
      expect(table.stdout).toMatch(/^lab-3\s+unreachable/m);
      expect(await until(/lab-3: .*reconnecting/, 20), out).toBe(true);
      const mark = out.length;
      expect((await opsLab(['lab', 'start', 'lab-3'])).code).toBe(0);
      // the web unit starts with the host: its journal lines of the new boot come through
      for (let i = 0; i < 120 && !/lab-3: connected again[\s\S]*demo-web\.service:/.test(out.slice(mark)); i++) await new Promise((r) => setTimeout(r, 500));
      expect(out.slice(mark), out).toMatch(/lab-3: connected again[\s\S]*demo-web\.service:/);
    } finally {
      child.kill('SIGINT');
      await new Promise((r) => child.on('close', r));
    }
    // every unit of lab-3 active again (Celery takes a moment after the boot)
    let back = await opsLab(['status', 'lab']);
    for (let i = 0; i < 30 && back.code !== 0; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      back = await opsLab(['status', 'lab']);
    }
    expect(back.code, back.stdout + back.stderr).toBe(0);
  });
});
