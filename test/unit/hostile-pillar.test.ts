/**
 * Pillar values are data: the hostile-pillar corpus. Every value that reaches a host — a command
 * line, a config file, a unit, cron, nginx, pg_hba, sudoers or authorized_keys — has a case here:
 * a hostile value is refused with `file:line:col`, the key path and the rule (exit 2), or a legal
 * but unusual one is rendered harmlessly, and the exact result is checked. SINKS below lists the
 * schema's leaves; a leaf the schema gains without a case (or a reason it reaches no host) fails
 * the first test.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { snapshot } from '../../src/converge/snapshot.js';
import { pullScript, type PullSource } from '../../src/db/direct.js';
import { checkEnvName } from '../../src/lab/names.js';
import { checkEnvironmentName, ENV_NAME_RE } from '../../src/pillar/forms.js';
import { loadPillar } from '../../src/pillar/load.js';
import { pillarJsonSchema, pillarSchema } from '../../src/pillar/schema.js';
import { buildScript } from '../../src/release/pipeline.js';
import { fetchArgv } from '../../src/release/source.js';
import { repoAt } from '../../src/repo.js';
import { serviceName } from '../../src/roles/app.js';
import { inventoryHosts, type Host, type RoleContext } from '../../src/roles/context.js';
import { cronCommand, nginxString, pgHbaAddress, systemdExec } from '../../src/roles/escape.js';
import { renderHost } from '../../src/roles/index.js';
import { projectRoles } from '../../src/roles/project.js';
import { templates } from '../../src/roles/templates.js';
import { opensshArgv } from '../../src/cli/actions/ssh.js';
import { admins } from '../../src/states/kinds/accounts.js';
import { line } from '../../src/states/kinds/text.js';
import type { State } from '../../src/states/types.js';
import { unpack } from '../../src/util/tar.js';
import { Redactor, redactor } from '../../src/ui/redact.js';
import { secretsFile } from '../../src/secrets/envsecrets.js';
import { repoWith } from '../support/files.js';
import { ops, tempRepo } from '../support/ops.js';

// ---------------------------------------------------------------------------------------------
// The schema's leaves, each classified. `case` names the test below that covers it.

const SINKS: Record<string, string> = {
  project: 'names the app user, paths, units and the shell text of a takeover: a-z, 0-9 and _ only, a reserved account refused',
  'repo.url': 'git fetch on the master: an option or an unknown scheme is refused; the URL follows --',
  'repo.branch': 'a git ref: an option-like or malformed name is refused',
  branch: 'a git ref: an option-like or malformed name is refused',
  'app.manage_command': 'manage-run: one line',
  ...Object.fromEntries(
    ['before_deploy', 'after_converge', 'before_switch', 'after_release', 'after_rollback', 'before_db_swap', 'after_db_copy'].map((p) => [
      `hooks.${p}`,
      'a task name (tasks/<name>.ts), or a shell line: one line, one word of sh -c as the app user (hooks.test.ts), on a known role',
    ]),
  ),
  'app.wsgi': 'the gunicorn unit: a Python reference only',
  'app.start_command': 'the app unit: one line, escaped for systemd',
  'app.requirements': 'pip -r on app hosts: a path inside the app, as the app user',
  'app.pip_args[]': 'pip install on app hosts: one line each, quoted, as the app user',
  'app.port': 'units, nginx, the firewall: an integer',
  'app.workers': 'the gunicorn unit: an integer',
  'app.packages[]': 'apt-get install: Debian package names',
  'app.type': 'an enum',
  'app.collectstatic': 'a boolean',
  'releases.keep': 'the prune command on app hosts: an integer',
  'releases.batch': 'how many web hosts switch at a time (no file, no command): an integer or N%',
  'healthcheck.path': 'nginx location (quoted) and the probe: a URL path',
  'roles.<key>': 'state ids, handler ids: a name',
  'roles.*.states': 'a file read on the master: inside the repo',
  'users.<key>': 'useradd, sudoers, /home/<name>: a Unix name, not reserved',
  'users.*.keys[]': 'authorized_keys: one public key line each',
  'users.*.groups[]': 'usermod -G: Unix names, no commas',
  'users.*.shell': 'useradd --shell: an absolute path',
  'users.*.sudo': 'sudoers membership: a boolean',
  'users.*.absent': 'offboarding: a boolean',
  domain: 'nginx server_name, certificate paths, openssl -subj: a host name',
  'servers.<key>': 'inventory names, minion.yml, /etc/hosts: a server name',
  'servers.*.address': 'ssh, the via ProxyCommand, --direct: an address or host name, after --',
  'servers.*.port': 'ssh -p, the firewall: an integer',
  'servers.*.user': 'ssh -l: a Unix name',
  'servers.*.roles[]': 'known roles only',
  'servers.*.via': 'a server name',
  'servers.*.private_address': 'pg_hba, postgresql.conf, memcached, redis, rabbitmq, nginx upstreams, the firewall: an address or host name',
  'env.<key>': 'the env file: a variable name',
  'env.*': 'the env file: any value, quoted',
  'secrets.<key>': 'the env file: a variable name',
  'secrets.*': 'the env file (quoted), pg_role (SCRAM verifier), rabbitmq (hash): any value',
  'processes.<key>': 'unit names <project>-<type>@N and the release\'s .ops-procfile/<type>: a Procfile process type',
  'processes.*.count': 'unit instances and web ports: an integer 0–32',
  'processes.*.role': 'an enum (web, worker)',
  'env_aliases.<key>': 'the env file: a variable name',
  'env_aliases.*': "the env file: the name of a variable ops sets there (its value copied, quoted)",
  'http_auth.<key>': 'htpasswd: no colon or blanks',
  'http_auth.*': 'htpasswd: an apr1 hash of it',
  'cron[].name': 'the cron comment and log file name: a name',
  'cron[].schedule': 'the crontab: five cron fields',
  'cron[].command': 'the crontab: one line, % escaped',
  'cron[].role': 'known roles only',
  'cron[].once': 'a boolean',
  'cache.backend': 'an enum',
  'worker.app': 'the Celery units: a Python reference only',
  'worker.concurrency': 'the Celery unit: an integer',
  'worker.beat': 'a boolean',
  'tls.acme.email': "the ACME account's contact, a JSON field on the master: an email address",
  'tls.acme.directory': "the master's ACME client: an https:// URL",
  'tls.acme.domains[]': 'nginx server_name, the placeholder certificate (openssl -addext), the CSR: host names',
  'tls.acme.directory_ca': "the master's HTTPS agent for the directory: PEM certificates only",
  'tls.acme.renew_before_days': 'compared by the master: an integer',
  'tls.acme.check_every': "the master's renewal timer unit: a time span",
  'tls.hsts': 'a fixed nginx header: a boolean',
  'data.<key>': "a project's own templates only, which escape with the filters (sh, systemd, cron, nginx, pg_hba)",
  'data.*': "a project's own templates only, which escape with the filters (sh, systemd, cron, nginx, pg_hba)",
};

/** Leaves that never reach a host (the operator's side or the master's own logic). */
const NO_HOST: Record<string, string> = {
  default_environment: 'picks the environment on the operator side (an environment name)',
  'healthcheck.status': 'compared by the master',
  'healthcheck.timeout': 'a wait on the master',
  'healthcheck.contains': 'compared by the master',
  'roles.*.description': 'shown to the operator',
  'roles.*.requires[]': 'ordering of roles on the master',
  protected: 'a refusal on the operator side',
  lab: 'set by ops lab',
};

function schemaLeaves(): string[] {
  type S = Record<string, unknown> & { anyOf?: S[]; properties?: Record<string, S>; additionalProperties?: S | boolean; items?: S; type?: unknown; pattern?: string };
  const out: string[] = [];
  const walk = (s: S, path: string): void => {
    if (s.anyOf) {
      const plain = s.anyOf.filter((x) => !(x.type === 'string' && String(x.pattern ?? '').includes('PGP')));
      if (plain.length === 1 && plain[0]) return walk(plain[0], path);
    }
    if (s.type === 'object' && s.properties) {
      for (const [k, v] of Object.entries(s.properties)) walk(v, path ? `${path}.${k}` : k);
      return;
    }
    if (s.type === 'object' && typeof s.additionalProperties === 'object') {
      out.push(`${path}.<key>`);
      walk(s.additionalProperties, `${path}.*`);
      return;
    }
    if (s.type === 'array' && s.items) return walk(s.items, `${path}[]`);
    out.push(path);
  };
  walk(pillarJsonSchema() as S, '');
  return out.sort();
}

// ---------------------------------------------------------------------------------------------
// Helpers

const BASE_ENV = [
  'domain: demo.example',
  'servers:',
  '  m: {address: 10.0.0.1, roles: [master]}',
  '  data: {address: 10.0.0.2, roles: [db, queue, cache]}',
  '  app: {address: 10.0.0.3, roles: [web, worker]}',
  '  lb: {address: 10.0.0.4, roles: [balancer]}',
  '',
].join('\n');

function errorText(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected it to be refused');
}

/**
 * The env file `pillar/staging.yml` (or project.yml / devs.yml) with `yaml` in it is refused: the
 * message is `file:line:col: path: rule`, the line the one holding `needle`.
 */
function refused(where: 'project' | 'devs' | 'staging', yaml: string, path: string, rule: RegExp, needle: string): void {
  const files: Record<string, string> = { 'pillar/project.yml': 'project: demo\n', 'pillar/devs.yml': '', 'pillar/staging.yml': BASE_ENV };
  const key = `pillar/${where}.yml`;
  if (where === 'staging' && yaml.startsWith('servers:\n')) files[key] = `${BASE_ENV}${yaml.slice('servers:\n'.length)}`;
  else if (where === 'staging' && yaml.startsWith('domain:')) files[key] = `${yaml}${BASE_ENV.replace(/^domain: .*\n/, '')}`;
  else files[key] = `${files[key] ?? ''}${yaml}`;
  const repo = repoWith(files);
  const text = files[key] ?? '';
  const lineNo = text.split('\n').findIndex((l) => l.includes(needle)) + 1;
  expect(lineNo, `needle ${needle} in ${key}`).toBeGreaterThan(0);
  const msg = errorText(() => loadPillar(repo, 'staging'));
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  expect(msg).toMatch(new RegExp(`^${esc(key)}:${lineNo}:\\d+: ${esc(path)}: `));
  expect(msg).toMatch(rule);
}

const FACTS = { osId: 'debian', osVersion: '12', postgresClusters: [] };

function rendered(over: Record<string, unknown>, hostName: string): State[] {
  const data = pillarSchema.parse({
    project: 'demo',
    domain: 'demo.example',
    secrets: { DB_PASSWORD: 'db-pass-1', BROKER_PASSWORD: 'mq-pass-1', SECRET_KEY: 'sk-1' },
    servers: {
      m: { address: '10.0.0.1', roles: ['master'] },
      data: { address: '10.0.0.2', roles: ['db', 'queue', 'cache'] },
      app: { address: '10.0.0.3', roles: ['web', 'worker'] },
      lb: { address: '10.0.0.4', roles: ['balancer'] },
    },
    ...over,
  });
  const hosts = inventoryHosts(data);
  const host = hosts.find((h) => h.name === hostName) as Host;
  const ctx: RoleContext = { env: 'staging', project: 'demo', pillar: data, host, hosts, facts: FACTS, tpl: templates(undefined) };
  return renderHost(ctx).states;
}

function content(states: State[], id: string): string {
  const s = states.find((x) => x.id === id);
  expect(s, `${id} among ${states.map((x) => x.id).join(', ')}`).toBeDefined();
  const p = s?.params as { content?: Buffer };
  return p.content?.toString('utf8') ?? '';
}

function lineOf(text: string, re: RegExp): string {
  return text.split('\n').find((l) => re.test(l)) ?? '(none)';
}

// ---------------------------------------------------------------------------------------------

describe('the hostile-pillar corpus', () => {
  it('classifies every leaf of the schema: it reaches a host (and has a case) or it does not', () => {
    const leaves = schemaLeaves();
    const unclassified = leaves.filter((l) => !(l in SINKS) && !(l in NO_HOST));
    expect(unclassified, 'new pillar values: add a case for each to this file and to SINKS (or to NO_HOST, saying why)').toEqual([]);
    const stale = [...Object.keys(SINKS), ...Object.keys(NO_HOST)].filter((l) => !leaves.includes(l));
    expect(stale).toEqual([]);
  });

  describe('refused: exit 2 with file:line:col, the key path and the rule', () => {
    const cases: Array<[string, 'project' | 'devs' | 'staging', string, string, RegExp, string]> = [
      ['repo.url as a git option', 'project', 'repo:\n  url: "--upload-pack=touch pwned;"\n', 'repo.url', /must be a git URL/, 'upload-pack'],
      ['repo.url with a shell word', 'project', "repo:\n  url: \"ssh://git@host/x' ; id\"\n", 'repo.url', /must be a git URL/, 'ssh://git@host'],
      ['repo.url with an unknown scheme', 'project', 'repo:\n  url: "ext::sh -c id"\n', 'repo.url', /must be a git URL/, 'ext::'],
      ['repo.branch as an option', 'project', 'repo:\n  branch: "--orphan"\n', 'repo.branch', /branch name/, '--orphan'],
      ['branch with ..', 'staging', 'branch: "a/../b"\n', 'branch', /branch name/, 'a/../b'],
      ['servers.X.address as an ssh option', 'staging', 'servers:\n  web-1: {address: "-oProxyCommand=touch pwned", roles: [web]}\n', 'servers.web-1.address', /IP address or a host name/, 'ProxyCommand'],
      ['servers.X.address with a blank', 'staging', 'servers:\n  web-1: {address: "10.0.0.9 -p 2", roles: [web]}\n', 'servers.web-1.address', /IP address or a host name/, '10.0.0.9 -p'],
      ['private_address with a newline (pg_hba, listen_addresses)', 'staging', 'servers:\n  web-1: {address: 10.0.0.9, private_address: "10.0.0.9/32 trust\\nhost all all 0.0.0.0/0", roles: [web]}\n', 'servers.web-1.private_address', /IP address or a host name/, 'trust'],
      ['private_address that closes a quote', 'staging', "servers:\n  web-1: {address: 10.0.0.9, private_address: \"10.0.0.9'\", roles: [web]}\n", 'servers.web-1.private_address', /IP address or a host name/, "10.0.0.9'"],
      ['private_address that adds an nginx block', 'staging', 'servers:\n  web-1: {address: 10.0.0.9, private_address: "10.0.0.9:8000; } server { listen 81", roles: [web]}\n', 'servers.web-1.private_address', /IP address or a host name/, 'listen 81'],
      ['servers.X.user as an option', 'staging', 'servers:\n  web-1: {address: 10.0.0.9, user: "-oX", roles: [web]}\n', 'servers.web-1.user', /Unix name/, '-oX'],
      ['servers.X.via that is not a server name', 'staging', 'servers:\n  web-1: {address: 10.0.0.9, via: "m; id", roles: [web]}\n', 'servers.web-1.via', /server name/, 'm; id'],
      ['servers.X.port out of range', 'staging', 'servers:\n  web-1: {address: 10.0.0.9, port: 70000, roles: [web]}\n', 'servers.web-1.port', /70000|65535/, '70000'],
      ['a server name with a blank', 'staging', 'servers:\n  "web 1": {address: 10.0.0.9, roles: [web]}\n', 'servers.["web 1"]'.replace('.[', '['), /server name/, 'web 1'],
      ['an unknown role', 'staging', 'servers:\n  web-1: {address: 10.0.0.9, roles: ["web; id"]}\n', 'servers.web-1.roles[0]', /unknown role/, 'web; id'],
      ['cron schedule that makes root the user', 'staging', 'cron:\n  - {name: x, schedule: "* * * * * root touch /pwned #", command: "true"}\n', 'cron[0].schedule', /five cron fields/, 'root touch'],
      ['cron schedule with a newline', 'staging', 'cron:\n  - {name: x, schedule: "* * * * *\\n* * * * * root id", command: "true"}\n', 'cron[0].schedule', /five cron fields/, 'root id'],
      ['cron command with a newline', 'staging', 'cron:\n  - {name: x, schedule: "@daily", command: "true\\n* * * * * root id"}\n', 'cron[0].command', /one line/, 'root id'],
      ['cron name with a slash', 'staging', 'cron:\n  - {name: "../x", schedule: "@daily", command: "true"}\n', 'cron[0].name', /Invalid|must/, '../x'],
      ['a hook line with a newline', 'project', 'hooks:\n  before_switch: {run: "true\\n* * * * * root id"}\n', 'hooks.before_switch.run', /one line/, 'root id'],
      ['a hook on an unknown role', 'project', 'hooks:\n  after_release: {run: "true", role: "web; id"}\n', 'hooks.after_release.role', /role/, 'web; id'],
      ['a hook task that is a path', 'project', 'hooks:\n  after_release: {task: "../../etc/x"}\n', 'hooks.after_release.task', /task name/, '../../etc/x'],
      ['cron role unknown', 'staging', 'cron:\n  - {name: x, schedule: "@daily", command: "true", role: nope}\n', 'cron[0].role', /unknown role 'nope'/, 'role: nope'],
      ['healthcheck.path with braces (nginx)', 'project', 'healthcheck:\n  path: "/h { auth_basic off; } location = /z"\n', 'healthcheck.path', /URL path/, 'auth_basic off'],
      ['healthcheck.path with a blank', 'project', 'healthcheck:\n  path: "/h x"\n', 'healthcheck.path', /URL path/, '/h x'],
      ['app.start_command with a newline (unit directives)', 'project', "app:\n  type: command\n  start_command: \"run'\\nUser=root\"\n", 'app.start_command', /one line/, 'User=root'],
      ['a process type that leaves its unit name', 'project', 'app:\n  type: procfile\nprocesses:\n  "web@1.service ../../x": {count: 1}\n', 'processes["web@1.service ../../x"]', /process type/, '../../x'],
      ['a process type with a newline', 'project', 'app:\n  type: procfile\nprocesses:\n  "worker\\nExecStart=/bin/id": {count: 1}\n', 'processes["worker\\nExecStart=/bin/id"]', /process type/, 'ExecStart'],
      ['a process count that is not a number', 'project', 'app:\n  type: procfile\nprocesses:\n  worker: {count: "3; id"}\n', 'processes.worker.count', /number/, '3; id'],
      ['the web process on worker hosts', 'project', 'app:\n  type: procfile\nprocesses:\n  web: {role: worker}\n', 'processes.web.role', /web hosts/, 'role: worker'],
      ['app.manage_command with a newline', 'project', 'app:\n  manage_command: "python manage.py\\nid"\n', 'app.manage_command', /one line/, 'manage.py'],
      ['app.wsgi that is not a Python reference', 'project', "app:\n  wsgi: \"x'\\nUser=root\"\n", 'app.wsgi', /Python object reference/, 'User=root'],
      ['worker.app that is not a Python reference', 'project', "worker:\n  app: \"demo' -A x; id\"\n", 'worker.app', /Python object reference/, '-A x'],
      ['app.requirements out of the app', 'project', 'app:\n  requirements: ../../etc/shadow\n', 'app.requirements', /inside the repo/, 'shadow'],
      ['app.pip_args with a newline', 'project', 'app:\n  pip_args: ["--index-url\\nhttp://x"]\n', 'app.pip_args[0]', /one line/, 'index-url'],
      ['app.packages that is an apt option', 'project', 'app:\n  packages: ["-oAPT::x=y"]\n', 'app.packages[0]', /Debian package name/, 'APT::x'],
      ['app.port as a string', 'project', 'app:\n  port: "8000; listen 81"\n', 'app.port', /expected number/, 'listen 81'],
      ['app.workers too many', 'project', 'app:\n  workers: 1000\n', 'app.workers', /64|1000/, '1000'],
      ['releases.keep as text', 'project', 'releases:\n  keep: "5; rm -rf /"\n', 'releases.keep', /expected number/, 'rm -rf'],
      ['releases.batch as text', 'project', 'releases:\n  batch: "50%; id"\n', 'releases.batch', /percentage/, '50%; id'],
      ['a project role file out of the repo', 'project', 'roles:\n  x:\n    states: ../../../../etc/ops/keys/production.key\n', 'roles.x.states', /inside the repo/, 'production.key'],
      ['a role name with a blank', 'project', 'roles:\n  "a b": {}\n', 'roles["a b"]', /role must start/, 'a b'],
      ['a reserved project name', 'project', '', 'project', /account of the system/, 'project: demo'],
      ['a devs.yml key with a newline (authorized_keys)', 'devs', 'users:\n  alice:\n    keys: ["ssh-ed25519 AAAAC3Nza alice\\nssh-ed25519 AAAAB3Nza mallory"]\n', 'users.alice.keys[0]', /one OpenSSH public key line/, 'mallory'],
      ['a devs.yml key that is not a key', 'devs', 'users:\n  alice:\n    keys: ["command=\\"id\\" not-a-key"]\n', 'users.alice.keys[0]', /one OpenSSH public key line/, 'not-a-key'],
      ['groups with a comma', 'devs', 'users:\n  alice:\n    groups: ["adm,sudo"]\n', 'users.alice.groups[0]', /Unix name/, 'adm,sudo'],
      ['a relative shell', 'devs', 'users:\n  alice:\n    shell: "bash -c id"\n', 'users.alice.shell', /absolute path/, 'bash -c'],
      ['an admin named root', 'devs', 'users:\n  root:\n    keys: []\n', 'users.root', /account of the system/, 'root:'],
      ['an admin named as the app', 'devs', 'users:\n  demo:\n    keys: []\n', 'users.demo', /app's user/, 'demo:'],
      ['an admin name with a dot', 'devs', 'users:\n  "a.b":\n    keys: []\n', 'users["a.b"]', /Unix user name/, 'a.b'],
      ['sudo as text', 'devs', 'users:\n  alice:\n    sudo: "yes; ALL"\n', 'users.alice.sudo', /expected boolean/, 'ALL'],
      ['absent as text', 'devs', 'users:\n  alice:\n    absent: "true"\n', 'users.alice.absent', /expected boolean/, 'absent:'],
      ['domain with a blank (nginx server_name)', 'staging', 'domain: "x.example; include /etc/passwd"\n', 'domain', /host name/, 'include'],
      ['an env variable name with a blank', 'staging', 'env:\n  "A B": x\n', 'env["A B"]', /environment variable name/, 'A B'],
      ['a secret name with a =', 'staging', 'secrets:\n  "A=B": x\n', 'secrets["A=B"]', /variable name/, 'A=B'],
      ['an env value that is a mapping', 'staging', 'env:\n  A: {b: c}\n', 'env.A', /expected/, 'b: c'],
      ['a secret value that is a list', 'staging', 'secrets:\n  A: [x]\n', 'secrets.A', /expected string/, 'A: [x]'],
      ['a basic-auth user with a colon', 'staging', 'http_auth:\n  "a:b": pw\n', 'http_auth["a:b"]', /basic-auth user name/, 'a:b'],
      ['an empty basic-auth password', 'staging', 'http_auth:\n  alice: ""\n', 'http_auth.alice', /1 char|too small|>=1/i, 'alice'],
      ['worker.concurrency as text', 'staging', 'worker:\n  concurrency: "2 --uid 0"\n', 'worker.concurrency', /expected number/, 'uid'],
      ['worker.beat as text', 'staging', 'worker:\n  beat: "on"\n', 'worker.beat', /expected boolean/, 'beat:'],
      ['cron once as text', 'staging', 'cron:\n  - {name: x, schedule: "@daily", command: "true", once: "no"}\n', 'cron[0].once', /expected boolean/, 'once'],
      ['cache.backend unknown', 'staging', 'cache:\n  backend: "redis; id"\n', 'cache.backend', /memcached|redis/, 'backend'],
      ['app.type unknown', 'project', 'app:\n  type: shell\n', 'app.type', /django|command/, 'type: shell'],
      ['app.collectstatic as text', 'project', 'app:\n  collectstatic: "false"\n', 'app.collectstatic', /expected boolean/, 'collectstatic'],
      ['an env alias name with a blank', 'staging', 'env_aliases:\n  "A B": AMQP_URL\n', 'env_aliases["A B"]', /environment variable name/, 'A B'],
      ['an env alias of a command substitution', 'staging', 'env_aliases:\n  X: "$(id)"\n', 'env_aliases.X', /name of a variable/, '$(id)'],
      ['tls.acme.email with a newline', 'staging', 'tls:\n  acme: {email: "a@b.example\\nx"}\n', 'tls.acme.email', /email address/, 'acme:'],
      ['tls.acme.directory over plain HTTP', 'staging', 'tls:\n  acme: {email: a@b.example, directory: "http://ca.example/dir"}\n', 'tls.acme.directory', /https:\/\/ URL/, 'acme:'],
      ['tls.acme.directory with a quote', 'staging', 'tls:\n  acme: {email: a@b.example, directory: "https://ca.example/d\\"ir"}\n', 'tls.acme.directory', /https:\/\/ URL/, 'acme:'],
      ['tls.acme.domains that adds an nginx directive', 'staging', 'tls:\n  acme: {email: a@b.example, domains: ["x.example; listen 81"]}\n', 'tls.acme.domains[0]', /host name/, 'acme:'],
      ['tls.acme.domains as a wildcard (HTTP-01 cannot prove one)', 'staging', 'tls:\n  acme: {email: a@b.example, domains: ["*.example"]}\n', 'tls.acme.domains[0]', /host name/, 'acme:'],
      ['tls.acme.check_every that adds a unit line', 'staging', 'tls:\n  acme: {email: a@b.example, check_every: "12h\\nExecStart=/bin/sh"}\n', 'tls.acme.check_every', /time span/, 'acme:'],
      ['tls.acme.directory_ca that is not a certificate', 'staging', 'tls:\n  acme: {email: a@b.example, directory_ca: "-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----"}\n', 'tls.acme.directory_ca', /PEM certificates/, 'acme:'],
      ['tls.acme.renew_before_days as text', 'staging', 'tls:\n  acme: {email: a@b.example, renew_before_days: "30; x"}\n', 'tls.acme.renew_before_days', /expected number/, 'acme:'],
      ['tls.acme.check_every too short for a CA', 'staging', 'tls:\n  acme: {email: a@b.example, check_every: 5s}\n', 'tls.acme.check_every', /between 10s and 1d/, 'acme:'],
      ['tls.acme.check_every too long for a certificate', 'staging', 'tls:\n  acme: {email: a@b.example, check_every: 30d}\n', 'tls.acme.check_every', /between 10s and 1d/, 'acme:'],
      ['tls.acme beside the pillar\'s own certificate', 'staging', 'secrets:\n  ssl_cert: x\n  ssl_key: y\ntls:\n  acme: {email: a@b.example}\n', 'tls.acme', /both tls\.acme and ssl_cert/, 'acme:'],
      ['a domain too long for a common name with tls.acme', 'staging', `domain: ${'a'.repeat(60)}.example\ntls:\n  acme: {email: a@b.example}\n`, 'domain', /at most 64 characters/, 'aaaa'],
      ['tls.hsts as text', 'staging', 'tls:\n  hsts: "yes"\n', 'tls.hsts', /expected boolean/, 'hsts'],
      ['default_environment that is not an environment name', 'project', "default_environment: \"a$(id)\"\n", 'default_environment', /environment name/, 'a$(id)'],
    ];
    for (const [title, where, yaml, path, rule, needle] of cases) {
      it(title, () => {
        if (path === 'project') {
          const repo = repoWith({ 'pillar/project.yml': 'project: root\n', 'pillar/staging.yml': BASE_ENV });
          expect(errorText(() => loadPillar(repo, 'staging'))).toMatch(/^pillar\/project\.yml:1:\d+: project: .*account of the system/);
          return;
        }
        refused(where, yaml, path, rule, needle);
      });
    }
    // the project names /var/www/<project>/ in the shell text a takeover runs as root (grep's
    // pattern, the checkout's path) and /etc/nginx/<project>.conf.before-ops that setup-minion moves a file to
    it('a project name that is a path, a shell word or a glob', () => {
      for (const name of ['../etc', 'demo;id', 'demo/../../root', 'demo*', "demo'x", 'demo\\nx']) {
        const repo = repoWith({ 'pillar/project.yml': `project: ${JSON.stringify(name)}\n`, 'pillar/staging.yml': BASE_ENV });
        expect(errorText(() => loadPillar(repo, 'staging')), name).toMatch(/^pillar\/project\.yml:1:\d+: project: project must start with a lower-case letter and use only a-z, 0-9 and _/);
      }
    });
  });

  describe('legal but unusual: rendered harmlessly, exactly', () => {
    it('an env value with quotes, $, \\, a newline and unicode: one quoted word of the env file', () => {
      const env = content(rendered({ env: { AWKWARD: `q'uo"te $HOME \\back\nnew line ünï` } }, 'app'), 'file:/var/www/demo/shared/env');
      expect(env).toContain(`export AWKWARD='q'\\''uo"te $HOME \\back\nnew line ünï'\n`);
    });

    it('a secret with a quote reaches the env file quoted; DB_PASSWORD is never written there for the db host', () => {
      const states = rendered({ secrets: { DB_PASSWORD: "it's-a-pw", BROKER_PASSWORD: 'mq-pass-1', SECRET_KEY: "k'\n$x" } }, 'app');
      expect(content(states, 'file:/var/www/demo/shared/env')).toContain(`export SECRET_KEY='k'\\''\n$x'\nexport STATIC_ROOT`);
    });

    it('a start command with quotes, $, % and \\: one systemd word, $ and % made literal', () => {
      const unit = content(rendered({ app: { type: 'command', start_command: `serve 'a b' --port $PORT --log "%(h)s" \\x` } }, 'app'), 'unit:demo-web.service');
      expect(lineOf(unit, /^ExecStart=/)).toBe(
        `ExecStart="/bin/sh" "-c" "cd /var/www/demo/current && exec /usr/local/lib/ops/with-env /var/www/demo/shared/env serve 'a b' --port $$PORT --log \\"%%(h)s\\" \\\\x"`,
      );
      expect(unit.split('\n').filter((l) => /^User=/.test(l))).toEqual(['User=demo']);
    });

    it('a wsgi reference and a Celery app reach their units as quoted words', () => {
      const web = content(rendered({ app: { wsgi: 'pkg.web:make_app()' } }, 'app'), 'unit:demo-web.service');
      expect(lineOf(web, /^ExecStart=/)).toMatch(/--error-logfile \/var\/www\/demo\/log\/error\.log 'pkg\.web:make_app\(\)'"$/);
      const worker = content(rendered({ worker: { app: 'demo.celery:app' } }, 'app'), 'unit:demo-worker.service');
      expect(lineOf(worker, /^ExecStart=/)).toContain('-A demo.celery:app worker --loglevel INFO --concurrency 2 --hostname demo@%%h"');
    });

    it('the cron file renders (it uses the project), and % in a command is escaped for cron', () => {
      const cron = content(rendered({ cron: [{ name: 'report', schedule: '*/5 * * * *', command: "date +%F >> /tmp/r; echo 'done'" }] }, 'app'), 'file:/etc/cron.d/demo');
      expect(cron).toContain('scheduled jobs of demo from the pillar');
      expect(lineOf(cron, /^\*\/5/)).toBe(
        `*/5 * * * * demo cd /var/www/demo/current && /usr/local/lib/ops/with-env /var/www/demo/shared/env sh -c 'date +\\%F >> /tmp/r; echo '\\''done'\\''' >> /var/www/demo/log/cron-report.log 2>&1`,
      );
    });

    it('the shipped production pillar renders its worker host with its cron job', () => {
      const repo = repoAt(join(__dirname, '..', '..'));
      const p = loadPillar(repo, 'production');
      const hosts = inventoryHosts(p.data);
      const ctx: RoleContext = { env: 'production', project: 'demo', pillar: { ...p.data, secrets: { DB_PASSWORD: 'x-db1', BROKER_PASSWORD: 'x-mq1' } }, host: hosts.find((h) => h.name === 'prod-worker-1') as Host, hosts, facts: FACTS, tpl: templates(undefined) };
      expect(content(renderHost(ctx).states, 'file:/etc/cron.d/demo')).toMatch(/^17 3 \* \* \* demo cd \/var\/www\/demo\/current && .* sh -c 'python manage.py clearsessions'/m);
    });

    it('a health path with ?, & and ( ): its path (nginx matches no query) as one quoted nginx word', () => {
      const site = content(rendered({ healthcheck: { path: '/health&y=(2)?x=1' }, http_auth: { alice: 'pw-1' } }, 'lb'), 'file:/etc/nginx/sites-available/demo.conf');
      expect(lineOf(site, /location = "\/h/)).toBe('    location = "/health&y=(2)" {');
    });

    it('a private address that is a host name: quoted in pg_hba.conf (so `all` is a name, not a keyword)', () => {
      const states = rendered({ servers: { m: { address: '10.0.0.1', roles: ['master'] }, data: { address: '10.0.0.2', roles: ['db'] }, app: { address: '10.0.0.3', private_address: 'all', roles: ['web'] } } }, 'data');
      expect(content(states, 'block:/etc/postgresql/15/main/pg_hba.conf')).toBe('host demo_staging demo_staging "all" scram-sha-256\n');
    });

    it('an authorized key with options and a unicode comment: one line', () => {
      const key = 'from="10.0.0.0/8",no-pty ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG alice@laptöp';
      const ak = content(rendered({ users: { alice: { keys: [key] } } }, 'app'), 'file:/home/alice/.ssh/authorized_keys');
      expect(ak).toBe(`# managed by ops (pillar/devs.yml)\n${key}\n`);
    });

    it('tls.acme: the names reach server_name and the placeholder certificate as host names; the timer takes its span and the environment as systemd words', () => {
      const acme = { tls: { hsts: true, acme: { email: 'ops+certs@b.example', directory: 'https://ca.example/dir?x=1&y=%41', domains: ['Extra.example', 'demo.example'], check_every: '30min' } } };
      const lb = rendered(acme, 'lb');
      const site = content(lb, 'file:/etc/nginx/sites-available/demo.conf');
      expect(site.split('\n').filter((l) => /server_name/.test(l))).toEqual(['    server_name demo.example extra.example;', '    server_name demo.example extra.example;']);
      expect(lineOf(site, /ssl_certificate /)).toBe('    ssl_certificate /etc/ssl/ops/demo.example.acme.crt;');
      expect(lineOf(site, /Strict-Transport/)).toBe('    add_header Strict-Transport-Security "max-age=31536000" always;');
      expect(lineOf(site, /acme-challenge/)).toBe('    location ^~ /.well-known/acme-challenge/ {');
      const placeholder = lb.find((s) => s.id === 'cmd:self-signed:demo.example')?.params as { run: { line: string }; creates: string };
      expect(placeholder.creates).toBe('/etc/ssl/ops/demo.example.acme.crt');
      expect(placeholder.run.line).toContain("subjectAltName=DNS:demo.example,DNS:extra.example");
      const m = rendered(acme, 'm');
      const timer = content(m, 'unit:ops-acme-renew-staging.timer');
      expect(timer.split('\n').filter((l) => /Sec=/.test(l))).toEqual(['OnActiveSec=30min', 'OnUnitActiveSec=30min', 'RandomizedDelaySec=180s']);
      expect(lineOf(content(m, 'unit:ops-acme-renew-staging.service'), /^ExecStart=/)).toBe('ExecStart="/usr/local/bin/ops" "__acme-renew" "staging"');
      // the master hands over to the lower-case path: nginx reads that one whatever the pillar's case
      expect(lineOf(content(rendered({ ...acme, domain: 'Demo.Example' }, 'lb'), 'file:/etc/nginx/sites-available/demo.conf'), /ssl_certificate /)).toBe('    ssl_certificate /etc/ssl/ops/demo.example.acme.crt;');
      // without tls.acme: no placeholder at the CA's path, no timer
      expect(rendered({}, 'lb').find((s) => s.id === 'dir:/var/lib/ops-acme-challenge')).toBeUndefined();
      expect(rendered({}, 'm').find((s) => s.id === 'service:ops-acme-renew-staging.timer')?.params).toMatchObject({ enabled: false, running: false });
    });

    it('a punycode domain reaches nginx and the certificate paths as it is', () => {
      const states = rendered({ domain: 'xn--bcher-kva.example' }, 'lb');
      expect(lineOf(content(states, 'file:/etc/nginx/sites-available/demo.conf'), /server_name/)).toBe('    server_name xn--bcher-kva.example;');
    });

    it("a server's SSH port is what the firewall admits (not 22)", () => {
      const states = rendered({ servers: { m: { address: '10.0.0.1', roles: ['master'] }, app: { address: '10.0.0.3', port: 2222, roles: ['web'] } } }, 'app');
      const nft = content(states, 'file:/etc/nftables.conf');
      expect(lineOf(nft, /comment "ssh"/)).toBe('    tcp dport 2222 accept comment "ssh"');
      expect(nft).not.toMatch(/dport 22 /);
    });

    it('the basic-auth user and password become one apr1 line (the password never in a command)', () => {
      const s = rendered({ http_auth: { 'rëviewer': "p'w $x" } }, 'lb').find((x) => x.kind === 'htpasswd');
      expect((s?.params as { users: Record<string, string> }).users).toEqual({ 'rëviewer': "p'w $x" });
    });

    it('a data value reaches a project template only through a filter', () => {
      const dir = mkdtempSync(join(tmpdir(), 'ops-tpl-'));
      mkdirSync(join(dir, 'x'));
      writeFileSync(join(dir, 'x/run.njk'), 'ExecStart=/usr/bin/echo {{ pillar.data.msg | systemd }}\nsh: echo {{ pillar.data.msg | sh }}\n');
      const tpl = templates(dir);
      const out = tpl.render('x/run.njk', { pillar: { data: { msg: "a'b\nUser=root %h $X" } } });
      expect(out).toContain("sh: echo 'a'\\''b\nUser=root %h $X'");
      expect(out.split('\n').filter((l) => l.startsWith('User='))).toEqual(['User=root %h $X\'']);
      // the systemd filter makes one word of it: the newline stays inside quotes, escaped
      expect(out).toMatch(/^ExecStart=\/usr\/bin\/echo "a'b\\nUser=root %%h \$\$X"$/m);
    });
  });

  describe('data never becomes an option, a word or a line of the commands ops builds', () => {
    it('git fetch: the URL follows --', () => {
      expect(fetchArgv('/m', 'ssh://git@h/x.git', 'main')).toEqual(['--git-dir', '/m', 'fetch', '-q', '--depth', '1', '--no-tags', '--', 'ssh://git@h/x.git', '+refs/heads/main:refs/heads/main']);
    });

    it('ops ssh: the address follows --, the command is one word; a via ProxyCommand quotes its words and doubles %', () => {
      const via = { name: 'm', address: '10.0.0.1', port: 22, user: 'ad%min' };
      const argv = opensshArgv({ name: 'w', address: '10.0.0.3', port: 22, user: 'alice', via }, ['/r/known hosts'], ['/k%1'], ['-t'], 'ls | wc -l');
      const dd = argv.indexOf('--');
      expect(argv.slice(dd)).toEqual(['--', '10.0.0.3', 'ls | wc -l']);
      const proxy = argv.find((a) => a.startsWith('ProxyCommand=')) ?? '';
      expect(proxy).toContain("-W %h:%p -- 10.0.0.1");
      expect(proxy).toContain('-l ad%%min');
      expect(proxy).toContain('-i /k%%1');
    });

    it('--direct: the source address follows -- in the pull script', () => {
      const src: PullSource = { name: 'p2', address: 'db.internal', port: 22, user: 'root', hostKeys: [{ type: 'ssh-ed25519', blob: Buffer.from('k'), file: 'known_hosts', line: 1 }] };
      expect(pullScript(src, 'pg_dump x', 'cat')).toMatch(/ -c "\$c" -- db\.internal 'pg_dump x' <&3/);
    });

    it('the release is built by the app user: archive, virtualenv and pip; then root owns it read-only', () => {
      const script = buildScript({ dir: '/var/www/demo/releases/r1', id: 'r1', meta: {}, paths: { media: '/m', envFile: '/e' }, user: 'demo', venv: true, pipArgs: ['--find-links', 'wheels dir'], requirements: 'req.txt' });
      const lines = script.split('\n');
      const asApp = script.slice(script.indexOf('cd / && runuser'), script.indexOf('\nchown -R'));
      expect(asApp).toMatch(/^cd \/ && runuser -u demo -- sh -c '/);
      expect(asApp).toContain('venv/bin/pip install');
      expect(asApp).toContain('tar -x --no-same-owner -f -');
      expect(asApp).toContain("--find-links '\\''wheels dir'\\''");
      expect(lines.slice(-2)).toEqual(['chown -R -h root:root /var/www/demo/releases/r1', 'chmod -R go-w /var/www/demo/releases/r1']);
    });

    it('a line state hands its values to awk through the environment, never -v (which reads escapes)', () => {
      const plan = line.plan({ path: '/etc/redis/redis.conf', line: 'bind 127.0.0.1 10.0.0.3\\nbind 0.0.0.0', match: '^bind ' }, { out: 'matched\n', code: 0 });
      const step = plan.steps[0];
      const argv = step && 'run' in step ? (step.run.argv ?? []) : [];
      expect(argv).toContain('LINE=bind 127.0.0.1 10.0.0.3\\nbind 0.0.0.0');
      expect(argv.join(' ')).not.toMatch(/awk -v/);
      expect(argv.join(' ')).toContain('ENVIRON["LINE"]');
      expect(() => line.plan({ path: '/x', line: 'a\nb' }, { out: 'absent\n', code: 0 })).toThrow(/line break/);
    });

    it('the escaping functions make one token or refuse', () => {
      expect(systemdExec(['/bin/x', 'a b', '%h', '$HOME', 'q"\\\n'])).toBe('"/bin/x" "a b" "%%h" "$$HOME" "q\\"\\\\\\n"');
      expect(cronCommand('a % b')).toBe('a \\% b');
      expect(() => cronCommand('a\nb')).toThrow(/one line/);
      expect(nginxString('a "b" \\c')).toBe('"a \\"b\\" \\\\c"');
      expect(() => nginxString('a\nb')).toThrow(/control characters/);
      expect([pgHbaAddress('10.0.0.1'), pgHbaAddress('::1'), pgHbaAddress('samehost')]).toEqual(['10.0.0.1/32', '::1/128', '"samehost"']);
      expect(() => pgHbaAddress('a b')).toThrow(/not a host name/);
    });
  });

  describe('environment names: one pattern everywhere', () => {
    it('the CLI, the lab and the master take the same names; distinct ones never share a database name', () => {
      for (const bad of ['a$(id)', 'A', 'a_b', '-x', 'a.b', 'a b', '', 'x'.repeat(25)]) {
        expect(() => checkEnvironmentName(bad), bad).toThrow(/not usable/);
        expect(() => checkEnvName(bad), bad).toThrow(/not usable/);
      }
      for (const good of ['lab', 'staging', 'prod-2', 'a1']) expect(() => checkEnvironmentName(good)).not.toThrow();
      const names = ['a-b', 'ab', 'a-b-c', 'a', 'ab-c'].filter((n) => ENV_NAME_RE.test(n));
      expect(new Set(names.map((env) => serviceName({ project: 'demo', env }))).size).toBe(names.length);
    });

    it("`ops -e 'a$(id)'` is refused before anything runs (exit 2)", async () => {
      const repo = tempRepo();
      const r = await ops(['-e', 'a$(id)', 'pillar', 'show'], { cwd: repo });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/environment name .* 'a\$\(id\)' is not usable/);
    });

    it('a pillar file whose name is not an environment name is refused when named', () => {
      const repo = repoWith({ 'pillar/project.yml': 'project: demo\n', 'pillar/Prod.yml': '' });
      expect(errorText(() => loadPillar(repo, 'Prod'))).toMatch(/environment name 'Prod' is not usable/);
    });
  });

  describe('pillar files: position for every refusal, never an unexpected failure', () => {
    it('a YAML alias bomb', () => {
      const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]', 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]', 'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]', 'data: {e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]}', ''].join('\n');
      const repo = repoWith({ 'pillar/project.yml': 'project: demo\n', 'pillar/staging.yml': bomb });
      expect(errorText(() => loadPillar(repo, 'staging'))).toMatch(/^pillar\/staging\.yml:1:1: YAML: .*alias/i);
    });

    it('a __proto__ key', () => {
      const repo = repoWith({ 'pillar/project.yml': 'project: demo\n', 'pillar/staging.yml': 'env:\n  A: b\n  __proto__:\n    domain: evil.example\n' });
      expect(errorText(() => loadPillar(repo, 'staging'))).toMatch(/^pillar\/staging\.yml:3:3: the key '__proto__' is not allowed/);
    });

    it('a folder where a pillar file should be, a file over 4 MiB, a symbolic link out of the repo', () => {
      const dirRepo = repoWith({ 'pillar/project.yml': 'project: demo\n', 'pillar/staging.yml/x': '' });
      expect(errorText(() => loadPillar(dirRepo, 'staging'))).toMatch(/pillar\/staging\.yml is a folder, not a pillar file/);
      const big = repoWith({ 'pillar/project.yml': 'project: demo\n', 'pillar/staging.yml': `data:\n  x: "${'a'.repeat(4 * 1024 * 1024)}"\n` });
      expect(errorText(() => loadPillar(big, 'staging'))).toMatch(/pillar\/staging\.yml is 4096 KiB: a pillar file may hold at most 4 MiB/);
      const outside = mkdtempSync(join(tmpdir(), 'ops-outside-'));
      writeFileSync(join(outside, 'secret.yml'), 'domain: x.example\n');
      const linked = repoWith({ 'pillar/project.yml': 'project: demo\n' });
      symlinkSync(join(outside, 'secret.yml'), join(linked.pillarDir, 'staging.yml'));
      expect(errorText(() => loadPillar(linked, 'staging'))).toMatch(/pillar\/staging\.yml is a symbolic link out of the repo/);
    });

    it('the snapshot sent to the master never follows a symbolic link out of the repo', () => {
      const outside = mkdtempSync(join(tmpdir(), 'ops-outside-'));
      writeFileSync(join(outside, 'id_ed25519'), 'PRIVATE');
      const repo = repoWith({ 'pillar/project.yml': 'project: demo\n', 'templates/web/x.njk': 'ok\n' });
      symlinkSync(join(outside, 'id_ed25519'), join(repo.root, 'templates/web/leak.njk'));
      expect(errorText(() => snapshot(repo))).toMatch(/templates\/web\/leak\.njk is a symbolic link out of the repo/);
      symlinkSync(join(repo.root, 'templates/web/x.njk'), join(repo.root, 'templates/web/inside.njk'));
      rmSync(join(repo.root, 'templates/web/leak.njk'));
      const files = unpack(snapshot(repo)).map((e) => e.path).sort();
      expect(files).toEqual(['pillar/project.yml', 'templates/web/inside.njk', 'templates/web/x.njk']);
    });

    it('a project role file made from a secret is marked secret (no diff) and root-only unless the role says otherwise', () => {
      const root = mkdtempSync(join(tmpdir(), 'ops-role-'));
      mkdirSync(join(root, 'roles'));
      mkdirSync(join(root, 'tpl/x'), { recursive: true });
      writeFileSync(join(root, 'roles/x.yml'), 'states:\n  - file: {path: /etc/x.conf, template: x/x.njk}\n  - file: {path: /etc/plain.conf, content: "plain\\n"}\n');
      writeFileSync(join(root, 'tpl/x/x.njk'), 'token={{ pillar.secrets.API_TOKEN }}\n');
      redactor.add('tok-123456');
      const data = pillarSchema.parse({ project: 'demo', roles: { x: { states: 'roles/x.yml' } }, secrets: { API_TOKEN: 'tok-123456' }, servers: { h: { address: '10.0.0.9', roles: ['x'] } } });
      const hosts = inventoryHosts(data);
      const ctx: RoleContext = { env: 'staging', project: 'demo', pillar: data, host: hosts[0] as Host, hosts, facts: FACTS, tpl: templates(join(root, 'tpl')) };
      const states = projectRoles(ctx, root).x?.(ctx).states ?? [];
      expect(states.find((s) => s.id === 'file:/etc/x.conf')).toMatchObject({ secret: true, params: { mode: 0o600 } });
      expect(states.find((s) => s.id === 'file:/etc/plain.conf')?.secret).toBeUndefined();
      expect(states.find((s) => s.id === 'file:/etc/plain.conf')).toMatchObject({ params: { mode: 0o644 } });
    });

    it('a role file or apt key named out of the repo is refused', () => {
      const root = mkdtempSync(join(tmpdir(), 'ops-role-'));
      mkdirSync(join(root, 'roles'));
      writeFileSync(join(root, 'roles/x.yml'), 'states:\n  - apt_repo: {name: r, key: ../../etc/passwd, uris: "http://x", suites: s, components: c}\n');
      const data = pillarSchema.parse({ project: 'demo', roles: { x: { states: 'roles/x.yml' } }, servers: { h: { address: '10.0.0.9', roles: ['x'] } } });
      const hosts = inventoryHosts(data);
      const ctx: RoleContext = { env: 'staging', project: 'demo', pillar: data, host: hosts[0] as Host, hosts, facts: FACTS, tpl: templates(undefined) };
      expect(() => projectRoles(ctx, root).x?.(ctx)).toThrow(/key file \.\.\/\.\.\/etc\/passwd is not a file of the repo/);
    });
  });

  describe('redaction', () => {
    it('redacts first, then cuts: a secret across the cut never leaks a piece', () => {
      const r = new Redactor();
      const secret = 'S3CRET-0123456789-abcdefghij';
      r.add(secret);
      const text = `${'x'.repeat(50)}\nline ${secret} end\n`;
      for (let max = 5; max < text.length; max += 3) {
        const t = r.tail(text, max);
        expect(t.includes(secret.slice(0, 8)) || t.includes(secret.slice(-8)), `tail ${max}`).toBe(false);
        const h = r.head(`${secret}${'y'.repeat(40)}`, max);
        expect(h.includes(secret.slice(0, 8)), `head ${max}`).toBe(false);
      }
    });

    it('values shorter than 4 characters are not redacted (they would blot out ordinary text)', () => {
      const r = new Redactor();
      r.add('abc');
      expect(r.redact('abc abcd')).toBe('abc abcd');
    });
  });

  describe('offboarding (the admins state; on real hosts in test/hosts/hardening.test.ts)', () => {
    const facts = (recorded: string[], accounts: string[]) => ({ out: `recorded=${recorded.join(',')}\n${accounts.map((a) => `account=${a}`).join('\n')}\n`, code: 0 });
    const text = (p: ReturnType<typeof admins.plan>) => p.steps.map((s) => ('run' in s ? (s.run.argv ?? []).join(' ') : '')).join('\n');

    it('locks an admin ops made that devs.yml no longer lists; removes one marked absent; leaves accounts it never made', () => {
      const p = admins.plan({ listed: ['alice'], absent: ['carol', 'dave'] }, facts(['alice', 'bob', 'carol'], ['alice:1::1:/home/alice', 'bob:1::1:/home/bob', 'carol:1::0:/home/carol', 'dave:1::1:/home/dave']));
      expect(p.status).toBe('change');
      expect(text(p)).toBe(['usermod --lock --expiredate 1 bob', 'rm -f -- /home/bob/.ssh/authorized_keys', 'userdel --remove --force carol', 'sh -c mkdir -p /etc/ops && cat > "$1.tmp" && mv -f "$1.tmp" "$1" sh /etc/ops/admins'].join('\n'));
      const record = p.steps.at(-1);
      expect(record && 'run' in record ? record.stdin?.toString() : '').toBe('alice\nbob\n');
    });

    it('a second converge changes nothing; an admin listed again is let in again', () => {
      expect(admins.plan({ listed: ['alice'], absent: [] }, facts(['alice', 'bob'], ['alice:1::1:/home/alice', 'bob:1:1:0:/home/bob'])).status).toBe('ok');
      const back = admins.plan({ listed: ['alice', 'bob'], absent: [] }, facts(['alice', 'bob'], ['alice:1::1:/home/alice', 'bob:1:1:0:/home/bob']));
      expect(text(back)).toBe("usermod --expiredate  bob");
    });

    it('the sudoers file is managed also when no admin is left', () => {
      const sudoers = content(rendered({ users: {} }, 'app'), 'file:/etc/sudoers.d/ops-admins');
      expect(sudoers).toBe('# Managed by ops (template base/sudoers.njk): admins from pillar/devs.yml.\n');
    });
  });

  describe('the secrets file is edited only when it is a mapping of values', () => {
    for (const [title, secrets, pos] of [
      ['a list', 'secrets:\n  - a\n', /pillar\/staging\.yml:2:3: secrets is a list/],
      ['a string', 'secrets: oops\n', /pillar\/staging\.yml:1:10: secrets is the value "oops"/],
      ['a nested map', 'secrets: {A: {b: c}}\n', /pillar\/staging\.yml:1:14: secrets\.A is not a single value/],
      ['invalid YAML', 'secrets: [\n', /pillar\/staging\.yml:\d+:\d+: .*YAML/],
    ] as const) {
      it(`refuses ${title}: exit 2 with the position, nothing written`, async () => {
        const repo = tempRepo();
        const k = await ops(['keygen', 'staging'], { cwd: repo });
        expect(k.code, k.stderr).toBe(0);
        // the file encrypt --write edits for staging, made to hold the odd `secrets:`
        const file = secretsFile(repoAt(repo), 'staging');
        const before = secrets;
        writeFileSync(file, before);
        const r = await ops(['encrypt', 'staging', 'NEW=xyz-secret-1', '--write'], { cwd: repo });
        expect(r.code, r.stderr).toBe(2);
        const shown = file.slice(repo.length + 1).replace(/[.]/g, '\\.');
        expect(r.stderr).toMatch(new RegExp(`error: ${shown}:${pos.source.replace(/^pillar\\\/staging\\\.yml:/, '')}`));
        expect(readFileSync(file, 'utf8')).toBe(before);
      });
    }

    it('an unknown first word that looks like an environment, followed by KEY=value, is an error naming the environments', async () => {
      const repo = tempRepo();
      const before = existsSync(join(repo, '.ops/pillar/lab.yml')) ? readFileSync(join(repo, '.ops/pillar/lab.yml'), 'utf8') : undefined;
      const r = await ops(['encrypt', 'stagin', 'DB_PASSWORD=x1', '--write'], { cwd: repo });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/'stagin' is not an environment \(environments: lab, production, staging\)/);
      expect(existsSync(join(repo, '.ops/pillar/lab.yml')) ? readFileSync(join(repo, '.ops/pillar/lab.yml'), 'utf8') : undefined).toBe(before);
    });
  });
});
