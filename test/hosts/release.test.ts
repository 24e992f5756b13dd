/**
 * App releases on real lab hosts, booted converged from the run's `demo` snapshot: lab-1 master
 * (serving the demo app's git repo over SSH), lab-2 db+queue+cache, lab-3 web+worker, lab-4 balancer. Every secret is a canary value; at the end
 * every output of the run and the servers' logs are searched for them.
 */
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convergedLab, DEMO } from '../support/converged.js';
import { curlDemo, publishDemoApp, requestLoop, servedDemoRelease } from '../support/demo-app.js';
import { labDown, requireRoot, type LabHostRow } from '../support/lab.js';
import { OPS, ops, tempRepo, type RunResult } from '../support/ops.js';

let repo: string;
let hosts: LabHostRow[];
const outputs: string[] = [];
const canaries = ['canary-SECRET-7f3a9c1e', 'canary-DBPASS-52be0d44', 'canary-BROKER-a61c93f0'];
/** The app's SECRET_KEY now (a test rotates it). */
let secretKey = canaries[0] ?? '';
const addr = (name: string) => hosts.find((h) => h.name === name)?.address ?? '';

async function opsLab(args: string[], input?: string): Promise<RunResult> {
  const r = await ops(args, { cwd: repo, input });
  outputs.push(r.stdout, r.stderr);
  return r;
}

const publish = (change?: (dir: string) => void) => publishDemoApp(opsLab, change);
const curl = (path: string, seconds = 10) => curlDemo(addr('lab-4'), path, seconds);
const servedRelease = () => servedDemoRelease(addr('lab-4'));

/** A deploy with a request loop running from a second before it to a second after it; it must succeed. */
async function deployDuringRequests(): Promise<{ d: Awaited<ReturnType<typeof deploy>>; seen: Awaited<ReturnType<ReturnType<typeof requestLoop>['stop']>> }> {
  const loop = requestLoop(addr('lab-4'));
  await new Promise((r) => setTimeout(r, 1000));
  const d = await deploy();
  await new Promise((r) => setTimeout(r, 1000));
  const seen = await loop.stop();
  expect(d.code, d.out.stderr).toBe(0);
  return { d, seen };
}

function lastRelease(stdout: string): Record<string, unknown> {
  const line = stdout.split('\n').filter((l) => l.includes('"type":"release"')).pop();
  return line ? (JSON.parse(line) as Record<string, unknown>) : {};
}

async function deploy(args: string[] = []): Promise<{ code: number; release: Record<string, unknown>; out: RunResult }> {
  const r = await opsLab(['--json', 'deploy', 'lab', ...args]);
  return { code: r.code, release: lastRelease(r.stdout), out: r };
}

/** Starts a deploy and, when its output shows `marker`, does `act` (by default: SIGINT to the ops process). */
function deployKilledAt(marker: RegExp, act?: () => Promise<void>): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [OPS, 'deploy', 'lab'], { cwd: repo, env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let killed = false;
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString('utf8');
      if (!killed && marker.test(stdout)) {
        killed = true;
        if (act) void act();
        else child.kill('SIGINT');
      }
    });
    child.stderr.on('data', (b: Buffer) => outputs.push(b.toString('utf8')));
    child.on('close', (code) => {
      outputs.push(stdout);
      resolve({ code, stdout });
    });
  });
}

beforeAll(async () => {
  requireRoot();
  repo = tempRepo();
  hosts = await convergedLab(repo, DEMO);
  for (const [i, name] of ['SECRET_KEY', 'DB_PASSWORD', 'BROKER_PASSWORD'].entries()) {
    const r = await opsLab(['encrypt', 'lab', name, '--write'], canaries[i]);
    expect(r.code, r.stderr).toBe(0);
  }
  expect((await opsLab(['deploy-key', 'lab', '--write'])).code).toBe(0);
  await publish();
});

afterAll(async () => {
  if (repo) await labDown(repo);
});

describe('ops deploy releases the app', () => {
  let first = '';

  it('the first deploy converges the new secrets and releases the app; the page shows the release id', async () => {
    const d = await deploy();
    expect(d.code, d.out.stderr + d.out.stdout.slice(-2000)).toBe(0);
    expect(d.release).toMatchObject({ status: 'released' });
    first = String(d.release.id);
    expect(first).toMatch(/^\d{8}-\d{6}-[0-9a-f]{7}$/);
    expect(d.release.migrations).toContain('hits.0001_initial');
    expect(await servedRelease()).toBe(first);
  });

  it('a Celery task runs on the worker through RabbitMQ and its result is read back', async () => {
    const r = await curl('/task?n=12&timeout=40', 45);
    expect(r.code, r.body).toBe('200');
    expect(JSON.parse(r.body)).toMatchObject({ value: 144, worker: 'lab-3' });
  });

  it('an unchanged commit makes no release and the deploy changes nothing', async () => {
    const d = await deploy();
    expect(d.code).toBe(0);
    expect(d.release).toMatchObject({ status: 'unchanged', id: first });
    const summary = JSON.parse(d.out.stdout.trim().split('\n').pop() ?? '{}') as { changed: number };
    expect(summary.changed).toBe(0);
  });

  it('a new commit deploys with zero failed requests, and the page shows the new release', async () => {
    await publish();
    const { d, seen } = await deployDuringRequests();
    expect(seen.failed).toEqual([]);
    expect(seen.ok).toBeGreaterThan(10);
    expect(seen.releases.has(first)).toBe(true);
    expect(seen.releases.has(String(d.release.id))).toBe(true);
    expect(await servedRelease()).toBe(d.release.id);
  });

  it('a rotated secret and a new env value, deployed with no new commit: zero failed requests, new workers read them', async () => {
    const rotated = 'canary-SECRET-rotated-9d2e41b7';
    canaries.push(rotated);
    secretKey = rotated;
    expect((await opsLab(['encrypt', 'lab', 'SECRET_KEY', '--write'], rotated)).code).toBe(0);
    const lab = join(repo, 'pillar/lab.yml');
    writeFileSync(lab, readFileSync(lab, 'utf8').replace(/^env:\n/m, 'env:\n  DEMO_SETTING: rotated-1\n'));
    const { d, seen } = await deployDuringRequests();
    expect(d.release.status).toBe('unchanged');
    expect(seen.failed).toEqual([]);
    expect(seen.ok).toBeGreaterThan(10);
    const page = await curl('/');
    expect(page.body).toContain('setting: rotated-1');
    // the app's own settings read SECRET_KEY: its length is on the page, never the value
    expect(page.body).toContain(`secret key length: ${rotated.length}`);
  });

  it('manage-run runs in the current release as the app user and passes the exit status on', async () => {
    const plan = await opsLab(['manage-run', 'lab', '--', 'migrate', '--plan']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/No planned migration operations/);
    const who = await opsLab(['manage-run', 'lab', '--', 'shell', '-c', 'import os, getpass; print(getpass.getuser(), os.getcwd(), os.environ["DB_NAME"])']);
    expect(who.stdout.trim()).toBe(`demo /var/www/demo/releases/${await servedRelease()} demo_lab`);
    const failing = await opsLab(['manage-run', 'lab', '--', 'shell', '-c', 'import sys; sys.exit(7)']);
    expect(failing.code).toBe(7);
    const unknown = await opsLab(['manage-run', 'lab', '--', 'no_such_command']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/Unknown command: 'no_such_command'/);
  });

  it('manage-shell opens manage.py shell in a terminal (driven through tmux)', async () => {
    const session = `ops-shell-${process.pid}`;
    const tmux = (...a: string[]) => new Promise<string>((resolve) => {
      const c = spawn('tmux', a);
      let o = '';
      c.stdout.on('data', (b: Buffer) => (o += b.toString('utf8')));
      c.on('close', () => resolve(o));
    });
    const doneFile = join(repo, 'shell-exit');
    await tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '30', `cd ${repo} && ${process.execPath} ${OPS} manage-shell lab; echo "exit=$?" > ${doneFile}`);
    const waitFor = async (re: RegExp) => {
      for (let i = 0; i < 60; i++) {
        const screen = await tmux('capture-pane', '-p', '-t', session);
        if (re.test(screen)) return screen;
        await new Promise((r) => setTimeout(r, 500));
      }
      return tmux('capture-pane', '-p', '-t', session);
    };
    expect(await waitFor(/^>>>/m)).toMatch(/^>>>/m);
    await tmux('send-keys', '-t', session, 'from hits.models import Hit; print("rows", Hit.objects.count() > 0, 6 * 7)', 'Enter');
    expect(await waitFor(/rows True 42/)).toMatch(/rows True 42/);
    await tmux('send-keys', '-t', session, 'import sys; sys.exit(5)', 'Enter');
    for (let i = 0; i < 40; i++) {
      if (existsSync(doneFile)) {
        expect(readFileSync(doneFile, 'utf8').trim()).toBe('exit=5');
        return;
      }
      await new Promise((res) => setTimeout(res, 500));
    }
    await tmux('kill-session', '-t', session);
    throw new Error('manage-shell did not end');
  });
});

/** A pure-Python wheel made here (no package index is reachable): the app's wheelhouse. */
function makeWheel(dir: string): void {
  const py = [
    'import base64, hashlib, sys, zipfile',
    'files = {"opsdemo_extra/__init__.py": b"VALUE = \'from the wheelhouse\'\\n",',
    '  "opsdemo_extra-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\\nName: opsdemo-extra\\nVersion: 1.0\\n",',
    '  "opsdemo_extra-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\\nGenerator: ops-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}',
    'rec = "".join(f"{n},sha256={base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b\'=\').decode()},{len(d)}\\n" for n, d in files.items()) + "opsdemo_extra-1.0.dist-info/RECORD,,\\n"',
    'with zipfile.ZipFile(sys.argv[1], "w") as z:',
    '    [z.writestr(n, d) for n, d in files.items()]',
    '    z.writestr("opsdemo_extra-1.0.dist-info/RECORD", rec)',
  ].join('\n');
  mkdirSync(join(dir, 'wheels'), { recursive: true });
  execFileSync('python3', ['-c', py, join(dir, 'wheels/opsdemo_extra-1.0-py3-none-any.whl')]);
  writeFileSync(join(dir, 'requirements.txt'), 'opsdemo-extra==1.0\n');
}

describe('requirements from a local wheelhouse', () => {
  it('a release with requirements gets a virtualenv built from the wheelhouse, used by the app', async () => {
    const project = join(repo, 'pillar/project.yml');
    writeFileSync(project, readFileSync(project, 'utf8').replace('  requirements: requirements.txt\n', '  requirements: requirements.txt\n  pip_args: [--no-index, --find-links, wheels]\n'));
    await publish(makeWheel);
    const d = await deploy();
    expect(d.code, d.out.stderr + String(d.release.error)).toBe(0);
    expect(await servedRelease()).toBe(d.release.id);
    const r = await opsLab(['manage-run', 'lab', '--', 'shell', '-c', 'import sys, opsdemo_extra; print(sys.prefix, opsdemo_extra.VALUE)']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`/var/www/demo/current/venv from the wheelhouse`);
    const gunicorn = await opsLab(['run', 'lab', '--host', 'lab-3', '--', 'tr "\\0" " " < /proc/$(systemctl show -p MainPID --value demo-web)/cmdline']);
    expect(gunicorn.stdout).toContain('/var/www/demo/current/venv/bin/python -m gunicorn');
  });
});

describe('broken releases never replace the serving one', () => {
  it('a failing migration: exit 1 naming it; the previous release keeps serving', async () => {
    const before = await servedRelease();
    await publish((dir) =>
      writeFileSync(
        join(dir, 'hits/migrations/0002_boom.py'),
        'from django.db import migrations\n\ndef boom(apps, schema_editor):\n    raise RuntimeError("boom: this migration fails")\n\nclass Migration(migrations.Migration):\n    dependencies = [("hits", "0001_initial")]\n    operations = [migrations.RunPython(boom)]\n',
      ),
    );
    const d = await deploy();
    expect(d.code).toBe(1);
    expect(d.release).toMatchObject({ status: 'failed' });
    expect(String(d.release.error)).toMatch(/migrations of .* failed on lab-3[\s\S]*boom: this migration fails/);
    expect(await servedRelease()).toBe(before);
  });

  it('an app that does not start: exit 1 before the switch; the previous release keeps serving', async () => {
    const before = await servedRelease();
    await publish((dir) => appendFileSync(join(dir, 'demo/settings.py'), '\nraise RuntimeError("settings are broken")\n'));
    const d = await deploy();
    expect(d.code).toBe(1);
    expect(String(d.release.error)).toMatch(/settings are broken/);
    expect(await servedRelease()).toBe(before);
  });

  it('a failing health check switches back automatically and names the check', async () => {
    const before = await servedRelease();
    await publish((dir) => appendFileSync(join(dir, 'hits/views.py'), '\ndef healthz(request):\n    return HttpResponse("sick", status=500)\n'));
    const d = await deploy();
    expect(d.code).toBe(1);
    expect(d.release).toMatchObject({ status: 'rolled-back' });
    expect(String(d.release.error)).toMatch(/health check failed: GET https:\/\/demo\.lab\.invalid\/healthz via .* → 500/);
    expect(String(d.release.error)).toContain(`switched back to ${before}`);
    expect(await servedRelease()).toBe(before);
  });
});

describe('interrupted deploys', () => {
  for (const [point, marker] of [
    ['while building', /building \S+ on/],
    ['while migrating', /migrating on lab-3/],
    ['right after the switch', /switched; app servers reloaded/],
  ] as const) {
    it(`SIGINT ${point}: every request is served, the previous release stays, the lock is free`, async () => {
      const before = await servedRelease();
      // right after the switch: a health check that takes 3 s, so the interrupt surely lands while
      // the release is still being checked (a quick one could pass before the master notices)
      await publish(point === 'right after the switch' ? (dir) => {
        const f = join(dir, 'hits/views.py');
        writeFileSync(f, readFileSync(f, 'utf8').replace(/^def healthz\(request\):\n(?: {4}""".*"""\n)?/m, (m) => `${m}    time.sleep(3)\n`));
      } : undefined);
      const loop = requestLoop(addr('lab-4'));
      const killed = await deployKilledAt(marker);
      // the master notices at its next safe point and cleans up (after the switch: switches back)
      for (let i = 0; i < 30 && (await servedRelease()) !== before; i++) await new Promise((r) => setTimeout(r, 1000));
      await new Promise((r) => setTimeout(r, 2000));
      const seen = await loop.stop();
      expect(killed.stdout).toMatch(marker);
      expect(killed.code).not.toBe(0);
      expect(seen.failed).toEqual([]);
      if (point !== 'right after the switch') expect([...seen.releases]).toEqual([before]);
      expect(await servedRelease()).toBe(before);
      // the lock is freed once the master has cleaned up: the next deploy waits for it, if need be
      const again = await deploy(['--wait-lock', '120']);
      expect(again.code, again.out.stderr).toBe(0);
      expect(again.release).toMatchObject({ status: 'released' });
      expect(await servedRelease()).toBe(again.release.id);
    });
  }
});

describe('locks, history and rollback', () => {
  it('a second deploy refuses while one runs, naming the holder; --wait-lock waits for it', async () => {
    await publish();
    const firstRun = deployKilledAt(/(?!)/); // a marker that never matches: not killed
    await new Promise((r) => setTimeout(r, 2500));
    const refused = await opsLab(['deploy', 'lab']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/another deploy of 'lab' is running: \S+ since/);
    const waited = await opsLab(['deploy', 'lab', '--wait-lock', '300']);
    expect(waited.code, waited.stderr).toBe(0);
    expect((await firstRun).code).toBe(0);
  });

  it('a stale lock is reported and only broken with --force-unlock', async () => {
    const stale = JSON.stringify({ pid: 999999, host: 'lab-1', user: 'ghost@nowhere', what: 'deploy', since: '2026-01-01T00:00:00Z' });
    const put = await opsLab(['run', 'lab', '--host', 'lab-1', '--', 'cat > /var/lib/ops/lab/deploy.lock'], stale);
    expect(put.code, put.stderr).toBe(0);
    const refused = await opsLab(['deploy', 'lab']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/stale: held by ghost@nowhere .*whose process is gone/);
    expect(refused.stderr).toMatch(/--force-unlock/);
    const forced = await opsLab(['deploy', 'lab', '--force-unlock']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toMatch(/breaking the stale deploy lock of ghost@nowhere/);
  });

  it('the master powered off mid-deploy and started again: the lock is stale (it booted since), broken only with --force-unlock', async () => {
    const before = await servedRelease();
    await publish();
    let cut: Promise<RunResult> | undefined;
    const dead = await deployKilledAt(/building \S+ on/, async () => void (cut = opsLab(['lab', 'kill', 'lab-1'])));
    expect((await cut)?.code).toBe(0);
    expect(dead.code).not.toBe(0);
    expect(await servedRelease()).toBe(before);
    const start = await opsLab(['lab', 'start', 'lab-1']);
    expect(start.code, start.stderr).toBe(0);
    const refused = await deploy();
    expect(refused.code).toBe(1);
    expect(refused.out.stderr).toMatch(/the deploy lock of 'lab' is stale: held by \S+ since .* lab-1 has booted since/);
    expect(refused.out.stderr).toMatch(/--force-unlock/);
    const forced = await deploy(['--force-unlock']);
    expect(forced.code, forced.out.stderr).toBe(0);
    expect(forced.release).toMatchObject({ status: 'released' });
    expect(await servedRelease()).toBe(forced.release.id);
  });

  it('a web host rebooted during a deploy serves the live release when it is back', async () => {
    await publish();
    let reboot: Promise<void> | undefined;
    const during = await deployKilledAt(/building \S+ on/, async () => {
      reboot = (async () => {
        expect((await opsLab(['lab', 'stop', 'lab-3'])).code).toBe(0);
        expect((await opsLab(['lab', 'start', 'lab-3'])).code).toBe(0);
      })();
      await reboot;
    });
    await reboot;
    expect(during.stdout).toMatch(/building \S+ on/);
    // back: its units start on boot and serve the release its `current` link names
    let page = await curl('/');
    for (let i = 0; i < 30 && page.code !== '200'; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      page = await curl('/');
    }
    expect(page.code, page.body).toBe('200');
    const live = (await opsLab(['run', 'lab', '--host', 'lab-3', '--', 'basename "$(readlink /var/www/demo/current)"'])).stdout.trim();
    expect(/release: (\S+)/.exec(page.body)?.[1]).toBe(live);
    const next = await deploy();
    expect(next.code, next.out.stderr).toBe(0);
    expect(await servedRelease()).toBe(next.release.id);
  });

  it('ops releases lists commit, time, who and the live release', async () => {
    const r = await opsLab(['releases', 'lab']);
    expect(r.code, r.stderr).toBe(0);
    const live = await servedRelease();
    expect(r.stdout).toMatch(new RegExp(`^${live}\\t[0-9a-f]{12}\\t2026-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\t\\S+@\\S+\\tlive`, 'm'));
    expect(r.stdout).toMatch(/\trolled-back\t/);
    expect(r.stdout).toMatch(/\tfailed\t/);
    // --json: one event per release, the same ones
    const j = await opsLab(['--json', 'releases', 'lab']);
    expect(j.code, j.stderr).toBe(0);
    const events = j.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const records = events.filter((e) => e.type === 'release_record');
    expect(records.length).toBe(r.stdout.trim().split('\n').length - 1);
    expect(records.filter((e) => e.live === true).map((e) => e.id)).toEqual([live]);
    for (const e of records) expect(e).toMatchObject({ env: 'lab', id: expect.any(String), commit: expect.stringMatching(/^[0-9a-f]{40}$/), by: expect.any(String), at: expect.any(String) });
  });

  it('rollback past a migration warns, refuses without --yes (no terminal), switches with it', async () => {
    await publish((dir) =>
      writeFileSync(
        join(dir, 'hits/migrations/0002_note.py'),
        'from django.db import migrations\n\nclass Migration(migrations.Migration):\n    dependencies = [("hits", "0001_initial")]\n    operations = [migrations.RunSQL("CREATE TABLE hits_note (id serial PRIMARY KEY)", "DROP TABLE hits_note")]\n',
      ),
    );
    const before = await servedRelease();
    const d = await deploy();
    expect(d.code, d.out.stderr).toBe(0);
    expect(d.release.migrations).toEqual(['hits.0002_note']);
    const refused = await opsLab(['rollback', 'lab']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/hits\.0002_note \(applied by /);
    expect(await servedRelease()).toBe(d.release.id);
    const done = await opsLab(['rollback', 'lab', '--yes']);
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toMatch(new RegExp(`rolled back to ${before}`));
    expect(await servedRelease()).toBe(before);
    const to = await opsLab(['rollback', 'lab', '--to', String(d.release.id).slice(0, 15)]);
    expect(to.code, to.stderr).toBe(0);
    expect(await servedRelease()).toBe(d.release.id);
  });

  it('old releases are pruned to releases.keep (5) on the app host', async () => {
    const r = await opsLab(['run', 'lab', '--host', 'lab-3', '--', 'ls /var/www/demo/releases | wc -l']);
    expect(Number(r.stdout.trim())).toBe(5);
  });
});

describe('the database replaced under the live release', () => {
  const work = mkdtempSync(join(tmpdir(), 'ops-db-'));
  const dump = join(work, 'lab.dump');
  const script = join(work, 'sanitize.sql');

  it("db restore: the live release's pending migration runs after the swap, the app starts again, its health check passes", async () => {
    const b = await opsLab(['db', 'backup', 'lab', '--to', dump]);
    expect(b.code, b.stderr).toBe(0);
    // the restored copy lacks the live release's 0002_note, as an older production copy would
    writeFileSync(script, "DROP TABLE hits_note; DELETE FROM django_migrations WHERE app = 'hits' AND name = '0002_note';\n");
    const r = await opsLab(['db', 'restore', 'lab', dump, '--yes', '--sanitize', script]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/lab-3: migrate: done/);
    expect(r.stderr).toMatch(/health check: /);
    const shown = await opsLab(['manage-run', 'lab', '--', 'showmigrations', 'hits']);
    expect(shown.stdout).toMatch(/\[X\] 0002_note/);
    expect((await curl('/healthz')).code).toBe('200');
    expect((await opsLab(['run', 'lab', '--host', 'lab-3', '--', 'systemctl is-active demo-web.service demo-worker.service'])).stdout.trim().split('\n')).toEqual(['active', 'active']);
  });

  it('a health check that fails after the swap: exit 1 naming the way back, and undo-copy brings the healthy database back', async () => {
    writeFileSync(script, 'DROP TABLE hits_hit CASCADE;\n');
    const r = await opsLab(['db', 'restore', 'lab', dump, '--yes', '--sanitize', script]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/health check failed after the copy/);
    expect(r.stderr).toMatch(/ops db undo-copy lab/);
    expect((await curl('/healthz')).code).not.toBe('200');
    const undo = await opsLab(['db', 'undo-copy', 'lab', '--yes']);
    expect(undo.code, undo.stderr).toBe(0);
    expect((await curl('/healthz')).code).toBe('200');
  });
});

describe('secrets', () => {
  it('no canary secret appears in any output of this run or in the servers\' logs', async () => {
    const logs = await opsLab(['run', 'lab', '--', 'journalctl --no-pager -o cat 2>/dev/null; cat /var/log/nginx/* /var/www/demo/log/* /var/log/postgresql/* /var/log/rabbitmq/* 2>/dev/null; ls -R /var/lib/ops /tmp 2>/dev/null; true']);
    expect(logs.stdout.length).toBeGreaterThan(10_000);
    const all = outputs.join('\n') + logs.stdout;
    for (const c of canaries) expect(all.includes(c), c).toBe(false);
    // The app did receive them (so the search above looked for values that exist).
    const env = await ops(['manage-run', 'lab', '--', 'shell', '-c', `import os; print(os.environ["SECRET_KEY"] == "${secretKey}")`], { cwd: repo });
    expect(env.stdout.trim()).toBe('True');
  });
});
