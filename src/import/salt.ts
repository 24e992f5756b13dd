/**
 * `ops import salt`: a Caktus-template `conf/` (Salt pillar, the environments' public keys, the
 * project's states) read into the files of an ops repo. Values are moved, never re-typed: each
 * value node (a ciphertext too, byte for byte) keeps its text and the comments before it. Every
 * key the import does not carry over is said with what ops does instead.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { Document, isMap, isScalar, parseDocument, Pair, Scalar, YAMLMap, type Node } from 'yaml';
import { UsageError } from '../errors.js';
import { ENV_NAME_RE, PROJECT_NAME_RE, printable, SSH_PUBLIC_KEY_RE, UNIX_NAME_RE } from '../pillar/forms.js';
import type { NewFile } from '../init/write.js';

export interface SaltImport {
  files: NewFile[];
  envs: string[];
  /** What the import did, and every key or state it did not carry over, one line each. */
  report: string[];
}

/** Keys of the seed's pillar that ops has no use for, and what ops does instead. */
const NOT_NEEDED: Readonly<Record<string, string>> = {
  python_version: "ops uses the target's Debian Python 3 (app.packages, app.requirements)",
  postgres_version: "ops installs the release's own PostgreSQL (Debian 12: 15, Debian 13: 17)",
  margarita_version: 'the states are ops\'s own roles (no margarita checkout)',
  less_version: 'ops runs no asset compiler: build assets in the app (collectstatic runs at each release)',
  environment: 'the file name is the environment',
};

/** The states the template ships (conf/salt/…); any other is the project's own. */
const TEMPLATE_STATES = new Set([
  'top.sls', 'margarita.sls', 'npm.sls', 'newrelic_sysmon/init.sls', 'salt/init.sls', 'salt/master.sls', 'salt/minion.sls',
  'project/_vars.sls', 'project/app.sls', 'project/cache.sls', 'project/db.sls', 'project/db/init.sls', 'project/db/pg_hba.conf', 'project/db/postgresql.conf',
  'project/devs.sls', 'project/dirs.sls', 'project/django/init.sls', 'project/django/manage.sh', 'project/env_secrets.jinja2', 'project/nginx.conf',
  'project/queue.sls', 'project/repo.sls', 'project/user.sls', 'project/venv.sls', 'project/web/app.sls', 'project/web/balancer.sls', 'project/web/gunicorn.conf',
  'project/web/site.conf', 'project/worker/beat.sls', 'project/worker/celery.conf', 'project/worker/default.sls', 'project/newrelic_webmon/nrsysmond.cfg',
]);

const BALANCER_IF = /^\s*\{%-?\s*if\s+(['"])balancer\1\s+in\s+grains\[(['"])roles\2\]\s*-?%\}\s*$/;
const ENDIF = /^\s*\{%-?\s*endif\s*-?%\}\s*$/;

interface Sls {
  doc: Document;
  display: string;
  /** The seed's `{% if 'balancer' in grains['roles'] %}` blocks were there (their content is kept). */
  balancerBlock: boolean;
}

/** A `.sls` file as YAML: its renderer line dropped, the balancer-only blocks opened; other Jinja refused. */
function readSls(file: string, display: string): Sls {
  const lines = readFileSync(file, 'utf8').split('\n');
  let balancerBlock = false;
  let open = 0;
  const kept = lines.map((l, i) => {
    if (i === 0 && l.startsWith('#!')) return '';
    if (BALANCER_IF.test(l)) {
      balancerBlock = true;
      open++;
      return '';
    }
    if (ENDIF.test(l) && open > 0) {
      open--;
      return '';
    }
    if (!/^\s*#/.test(l) && (l.includes('{%') || l.includes('{{'))) throw new UsageError(`${display}:${i + 1}: Jinja that ops cannot carry over: ${printable(l.trim()).slice(0, 120)}`, 'write the value out as plain YAML, then import again');
    return l;
  });
  if (open > 0) throw new UsageError(`${display}: an {% if %} block is not closed`);
  const doc = parseDocument(kept.join('\n'), { keepSourceTokens: false });
  if (doc.errors.length > 0) throw new UsageError(`${display}: ${doc.errors[0]?.message.split('\n')[0] ?? 'not YAML'}`);
  if (doc.contents !== null && !isMap(doc.contents)) throw new UsageError(`${display}: the pillar is not a mapping`);
  return { doc, display, balancerBlock };
}

const pairsOf = (doc: Document): Pair<Scalar, Node>[] => (isMap(doc.contents) ? (doc.contents.items as Pair<Scalar, Node>[]) : []);
const keyOf = (p: Pair<Scalar, Node>): string => String(isScalar(p.key) ? p.key.value : p.key);
/** The environments top.sls gives pillar files to (`'environment:staging': [match: grain, staging]`). */
function topEnvs(file: string): string[] {
  const data = parseDocument(readFileSync(file, 'utf8')).toJS() as { base?: Record<string, unknown> } | null;
  return Object.keys(data?.base ?? {}).flatMap((k) => {
    const m = /^environment:(.+)$/.exec(k);
    return m?.[1] ? [m[1]] : [];
  });
}

function filesUnder(dir: string, base = dir): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? filesUnder(join(dir, d.name), base) : [relative(base, join(dir, d.name))])).sort();
}

function newDoc(comment: string, pairs: Pair[]): Document {
  const doc = new Document(new YAMLMap());
  doc.commentBefore = comment;
  for (const p of pairs) (doc.contents as YAMLMap).items.push(p);
  return doc;
}

/** Reads `conf` (the Caktus template's layout) into ops's files. */
export function importSalt(conf: string): SaltImport {
  const pillarDir = join(conf, 'pillar');
  if (!existsSync(pillarDir) || !statSync(pillarDir).isDirectory()) throw new UsageError(`${conf} has no pillar/ folder: give the Caktus template's conf/ folder`, 'e.g. ops import salt conf --to .');
  // files named as the project knows them: conf/pillar/staging.sls
  const show = (f: string) => relative(dirname(resolve(conf)), f);
  const report: string[] = [];
  const files: NewFile[] = [];

  // project.sls
  const projectFile = join(pillarDir, 'project.sls');
  if (!existsSync(projectFile)) throw new UsageError(`${show(projectFile)} is not there: the template keeps project_name in it`);
  const project = readSls(projectFile, show(projectFile));
  const projectOut: Pair[] = [];
  let projectName: string | undefined;
  const app = new YAMLMap();
  for (const p of pairsOf(project.doc)) {
    const k = keyOf(p);
    if (k === 'project_name') {
      projectName = String(isScalar(p.value) ? p.value.value : '');
      if (!PROJECT_NAME_RE.test(projectName)) throw new UsageError(`${project.display}: project_name '${printable(projectName)}' is not a name ops can use (lower-case letters, digits, _; starting with a letter)`);
      projectOut.push(new Pair(new Scalar('project'), p.value));
    } else if (k === 'requirements_file') app.items.push(new Pair(new Scalar('requirements'), p.value));
    else if (k in NOT_NEEDED) report.push(`${project.display}: ${k} is not carried over: ${NOT_NEEDED[k]}`);
    else report.push(`${project.display}: ${k} is not carried over: ops has no such setting (see README, "Pillar reference")`);
  }
  if (!projectName) throw new UsageError(`${project.display} has no project_name`);
  if (app.items.length > 0) projectOut.push(new Pair(new Scalar('app'), app));

  // devs.sls → the admins
  const devsFile = join(pillarDir, 'devs.sls');
  const users = new YAMLMap();
  if (existsSync(devsFile)) {
    const devs = readSls(devsFile, show(devsFile));
    const all = (devs.doc.toJS() as { users?: Record<string, { public_key?: unknown; groups?: unknown }> } | null)?.users ?? {};
    for (const [name, u] of Object.entries(all)) {
      if (!UNIX_NAME_RE.test(name)) {
        report.push(`${devs.display}: user '${printable(name)}' is not carried over: not a Unix user name`);
        continue;
      }
      const given = u?.public_key;
      const listed = (Array.isArray(given) ? given : given === undefined ? [] : [given]).map((k) => String(k).trim());
      const keys = listed.filter((k) => SSH_PUBLIC_KEY_RE.test(k));
      for (const k of listed.filter((x) => !SSH_PUBLIC_KEY_RE.test(x))) report.push(`${devs.display}: a key of ${name} is not carried over (${printable(k.split(' ')[0] ?? '')}: not a key type ops accepts — OpenSSH no longer takes ssh-dss)`);
      const groups = (Array.isArray(u?.groups) ? u.groups : []).map(String);
      const extra = groups.filter((g) => g !== 'admin' && g !== 'login' && UNIX_NAME_RE.test(g));
      const user = new YAMLMap();
      user.items.push(new Pair(new Scalar('keys'), keys));
      if (extra.length > 0) user.items.push(new Pair(new Scalar('groups'), extra));
      // margarita's `admin` group is sudo; ops's admins have sudo unless told otherwise
      if (groups.length > 0 && !groups.includes('admin')) user.items.push(new Pair(new Scalar('sudo'), false));
      users.items.push(new Pair(new Scalar(name), user));
      report.push(`${devs.display}: ${name} is an admin (${keys.length} key${keys.length === 1 ? '' : 's'}${groups.includes('admin') || groups.length === 0 ? ', sudo' : ''})`);
    }
  } else report.push(`${show(devsFile)} is not there: pillar/devs.yml has no admins yet`);

  // top.sls: which environments there are
  const topFile = join(pillarDir, 'top.sls');
  const listed = existsSync(topFile) ? topEnvs(topFile) : [];
  const present = readdirSync(pillarDir)
    .filter((f) => f.endsWith('.sls') && !['project.sls', 'devs.sls', 'top.sls'].includes(f))
    .map((f) => f.slice(0, -4));
  if (existsSync(topFile)) {
    for (const e of listed.filter((x) => !present.includes(x))) report.push(`${show(topFile)} names environment '${e}', but there is no ${e}.sls: nothing to import for it`);
    for (const e of present.filter((x) => !listed.includes(x))) report.push(`${e}.sls is not in ${show(topFile)}: Salt never gave it to a minion; imported all the same`);
    report.push(`${show(topFile)}: not carried over — ops gives each role its own states, and each environment its pillar/<env>.yml`);
  }
  const envs: string[] = [];
  for (const env of present.sort()) {
    if (env === 'local') {
      report.push('local.sls (the template\'s Vagrant machine) is not carried over: `ops lab` gives test hosts on this machine');
      continue;
    }
    if (!ENV_NAME_RE.test(env)) throw new UsageError(`${env}.sls: '${printable(env)}' is not an environment name ops can use`);
    const sls = readSls(join(pillarDir, `${env}.sls`), show(join(pillarDir, `${env}.sls`)));
    const out: Pair[] = [];
    let secrets: YAMLMap | undefined;
    const secret = (name: string, value: Node) => {
      secrets ??= new YAMLMap();
      secrets.items.push(new Pair(new Scalar(name), value));
    };
    const later: [string, Node][] = [];
    for (const p of pairsOf(sls.doc)) {
      const k = keyOf(p);
      if (k === 'environment') {
        const said = isScalar(p.value) ? String(p.value.value) : '';
        if (said !== env) throw new UsageError(`${sls.display}: environment: ${printable(said)} in the file of '${env}'`, 'the file name is the environment: make them agree');
      } else if (k === 'secrets' && isMap(p.value)) {
        secrets ??= new YAMLMap();
        secrets.commentBefore = p.key && (p.key as Scalar).commentBefore;
        secrets.items.push(...(p.value.items as Pair[]));
      } else if (['domain', 'branch', 'env', 'http_auth', 'repo'].includes(k)) out.push(p);
      else if (k === 'github_deploy_key') later.push(['deploy_key', p.value as Node]);
      else if (k === 'ssl_key' || k === 'ssl_cert') later.push([k, p.value as Node]);
      else if (k === 'requirements_file') {
        const envApp = new YAMLMap();
        envApp.items.push(new Pair(new Scalar('requirements'), p.value));
        out.push(new Pair(new Scalar('app'), envApp));
      }
      else if (k in NOT_NEEDED) report.push(`${sls.display}: ${k} is not carried over: ${NOT_NEEDED[k]}`);
      else report.push(`${sls.display}: ${k} is not carried over: ops has no such setting (see README, "Pillar reference")`);
    }
    for (const [name, value] of later) secret(name, value);
    if (later.some(([n]) => n === 'deploy_key')) report.push(`${sls.display}: github_deploy_key → secrets.deploy_key (the same ciphertext)`);
    if (sls.balancerBlock) report.push(`${sls.display}: the {% if 'balancer' in grains['roles'] %} block is opened: ops sends ssl_key and ssl_cert to balancers only`);
    out.push(new Pair(new Scalar('servers'), new YAMLMap()));
    if (secrets) out.push(new Pair(new Scalar('secrets'), secrets));
    const doc = newDoc(` The ${env} environment, imported from ${sls.display} by ops import salt. Its values stay\n encrypted to the Salt master's key (pillar/keys/${env}.pub.gpg). Servers are added as ops sets them up.`, out);
    files.push([`pillar/${env}.yml`, doc.toString({ lineWidth: 0 })]);
    envs.push(env);
    // the environment's key, as the template's setup_master exported it
    const key = join(conf, `${env}.pub.gpg`);
    if (existsSync(key)) files.push([`pillar/keys/${env}.pub.gpg`, readFileSync(key)]);
    else report.push(`${show(key)} is not there: '${env}' has no public key to encrypt new values to`);
  }
  if (envs.length === 0) throw new UsageError(`${show(pillarDir)} has no environment's .sls (staging.sls, production.sls, …)`);
  projectOut.push(new Pair(new Scalar('default_environment'), envs.includes('staging') ? 'staging' : envs[0]));
  files.unshift(
    ['pillar/project.yml', newDoc(` Project-wide pillar, imported from ${project.display} by ops import salt.`, projectOut).toString({ lineWidth: 0 })],
    ['pillar/devs.yml', newDoc(' The admins: a Unix user on every server with these keys. Removing one here locks them out at the next deploy.', [new Pair(new Scalar('users'), users)]).toString({ lineWidth: 0 })],
    ['.ops/.gitignore', '# ops keeps local state here (lab inventory and keys, pins, kept dumps): never committed\n*\n'],
  );

  // the project's own states
  const own = filesUnder(join(conf, 'salt')).filter((f) => !TEMPLATE_STATES.has(f));
  for (const f of own) report.push(`${show(join(conf, 'salt', f))}: the project's own state, not carried over — port it to a project role (README, "Provisioning and converge")`);
  return { files, envs, report };
}
