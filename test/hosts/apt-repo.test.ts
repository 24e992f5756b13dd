/**
 * A project role of its own (roles/extras.yml) adding a third-party apt repository with a signing
 * key. No third-party registry is reachable here, so the test builds one with Debian's tools
 * (dpkg-deb, apt-ftparchive, gpg) and serves it on the lab bridge — a stand-in, on purpose.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDown, provisionLab, requireRoot } from '../support/lab.js';
import { ops, tempRepo } from '../support/ops.js';

let repo: string;
let server: Server;
let gnupg: string;

function buildRepo(dir: string, signingUid: string): void {
  const pkg = join(dir, 'build', 'ops-hello');
  mkdirSync(join(pkg, 'DEBIAN'), { recursive: true });
  mkdirSync(join(pkg, 'usr/share/ops-hello'), { recursive: true });
  writeFileSync(join(pkg, 'DEBIAN/control'), 'Package: ops-hello\nVersion: 1.0\nArchitecture: all\nMaintainer: ops tests <tests@ops.invalid>\nDescription: a package from a local signed repository\n');
  writeFileSync(join(pkg, 'usr/share/ops-hello/hello.txt'), 'hello from the local repo\n');
  mkdirSync(join(dir, 'www/pool'), { recursive: true });
  execFileSync('dpkg-deb', ['--root-owner-group', '--build', pkg, join(dir, 'www/pool/ops-hello_1.0_all.deb')], { stdio: 'ignore' });
  const dist = join(dir, 'www/dists/stable/main/binary-all');
  mkdirSync(dist, { recursive: true });
  writeFileSync(join(dist, 'Packages'), execFileSync('apt-ftparchive', ['packages', 'pool'], { cwd: join(dir, 'www') }));
  const release = execFileSync('apt-ftparchive', ['-o', 'APT::FTPArchive::Release::Suite=stable', '-o', 'APT::FTPArchive::Release::Components=main', '-o', 'APT::FTPArchive::Release::Architectures=all amd64', 'release', 'dists/stable'], { cwd: join(dir, 'www') });
  writeFileSync(join(dir, 'www/dists/stable/Release'), release);
  execFileSync('gpg', ['--homedir', gnupg, '--batch', '--yes', '--local-user', signingUid, '--clearsign', '-o', join(dir, 'www/dists/stable/InRelease'), join(dir, 'www/dists/stable/Release')]);
}

beforeAll(async () => {
  requireRoot();
  gnupg = mkdtempSync(join(tmpdir(), 'ops-aptkey-'));
  execFileSync('chmod', ['700', gnupg]);
  for (const uid of ['repo <repo@ops.invalid>', 'intruder <intruder@ops.invalid>']) {
    execFileSync('gpg', ['--homedir', gnupg, '--batch', '--passphrase', '', '--quick-gen-key', uid, 'ed25519', 'sign', 'never']);
  }
  repo = tempRepo();
  const build = mkdtempSync(join(tmpdir(), 'ops-aptrepo-'));
  buildRepo(build, 'repo@ops.invalid');
  mkdirSync(join(repo, 'roles'));
  writeFileSync(join(repo, 'roles/repo.asc'), execFileSync('gpg', ['--homedir', gnupg, '--armor', '--export', 'repo@ops.invalid']));
  const hosts = await provisionLab(repo, { hosts: 2, minions: {} });
  const bridge = (hosts[0]?.address ?? '').replace(/\.\d+$/, '.1');
  server = createServer((req, res) => {
    try {
      res.end(readFileSync(join(build, 'www', decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/'))));
    } catch {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((ok) => server.listen(0, bridge, ok));
  const port = (server.address() as { port: number }).port;
  writeFileSync(join(repo, 'roles/extras.yml'), `# a project role of its own\nstates:\n  - apt_repo: {name: local, key: roles/repo.asc, uris: "http://${bridge}:${port}", suites: stable, components: main}\n  - pkg: [ops-hello]\n  - file: {path: /etc/ops-hello.conf, content: "greeting=hello\\n", mode: "0640", notify: hello}\nhandlers:\n  hello: touch /run/ops-hello-notified\n`);
  writeFileSync(join(repo, 'pillar/project.yml'), `${readFileSync(join(repo, 'pillar/project.yml'), 'utf8')}\nroles:\n  extras:\n    description: local repository package\n    states: roles/extras.yml\n`);
  // The lab sends apt through its Debian-only proxy; this repository is on the bridge itself.
  const direct = await ops(['run', 'lab', '--host', 'lab-2', '--', `echo 'Acquire::http::Proxy::${bridge} "DIRECT";' > /etc/apt/apt.conf.d/99ops-test-direct`], { cwd: repo });
  expect(direct.code, direct.stderr).toBe(0);
  const minion = await ops(['setup-minion', 'lab', 'extras', '-H', hosts[1]?.address ?? ''], { cwd: repo });
  expect(minion.code, minion.stderr).toBe(0);
});

afterAll(async () => {
  server?.close();
  if (repo) await labDown(repo);
  if (gnupg) execFileSync('gpgconf', ['--homedir', gnupg, '--kill', 'all']);
});

describe('a project role with a signed third-party apt repository', () => {
  it('adds the repository, installs its package, writes the file and runs the handler; a second deploy changes nothing', async () => {
    const r = await ops(['deploy', 'lab', '--host', 'lab-2'], { cwd: repo });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/changed\s+apt_repo:local/);
    expect(r.stdout).toMatch(/changed\s+pkg:extras:1 — install ops-hello/);
    const check = await ops(['run', 'lab', '--host', 'lab-2', '--', 'cat /usr/share/ops-hello/hello.txt; stat -c %a /etc/ops-hello.conf; test -e /run/ops-hello-notified && echo notified'], { cwd: repo });
    expect(check.stdout).toBe('hello from the local repo\n640\nnotified\n');
    const again = await ops(['--json', 'deploy', 'lab', '--only', 'lab-2'], { cwd: repo });
    const summary = JSON.parse(again.stdout.trim().split('\n').pop() ?? '{}') as { changed: number; failed: number };
    expect(summary).toMatchObject({ changed: 0, failed: 0 });
  });

  it('a repository signed by another key is refused (the state fails, exit 1)', async () => {
    writeFileSync(join(repo, 'roles/repo.asc'), execFileSync('gpg', ['--homedir', gnupg, '--armor', '--export', 'intruder@ops.invalid']));
    const r = await ops(['deploy', 'lab', '--host', 'lab-2'], { cwd: repo });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/failed\s+apt_repo:local/);
    expect(r.stdout).toMatch(/NO_PUBKEY|not signed|signature/i);
  });
});
