/**
 * The pillar contract: what project.yml, devs.yml and <env>.yml may hold once merged.
 * Every later capability reads the typed result; `ops pillar schema` emits it as JSON Schema.
 * Any value may be an OpenPGP-encrypted block (armored PGP MESSAGE), not only secrets.
 */
import { z } from 'zod';
import { X509Certificate } from 'node:crypto';
import { PGP_MESSAGE_RE } from './encrypted.js';
import {
  ABSOLUTE_PATH_RE,
  BRANCH_RE,
  CRON_SCHEDULE_RE,
  ENV_NAME_RE,
  ENV_NAME_RULE,
  GIT_URL_RE,
  GIT_URL_RULE,
  HOST_RULE,
  EMAIL_RE,
  HTTP_USER_RE,
  isDomainName,
  isHttpsUrl,
  isHostOrAddress,
  ONE_LINE_RE,
  PYTHON_REF_RE,
  RELATIVE_PATH_RE,
  RESERVED_ACCOUNTS,
  PROJECT_NAME_RE,
  SERVER_NAME_RE,
  SSH_PUBLIC_KEY_RE,
  TIMESPAN_RE,
  timespanSeconds,
  UNIX_NAME_RE,
  PROCESS_TYPE_RE,
  URL_PATH_RE,
} from './forms.js';

import { BUILTIN_ROLES, ROLE_ALIASES } from './roles.js';
export { BUILTIN_ROLES, ROLE_ALIASES, type BuiltinRole } from './roles.js';

const encrypted = z.string().regex(PGP_MESSAGE_RE).describe('an armored OpenPGP message (made with `ops encrypt`)');
const orEncrypted = <T extends z.ZodType>(t: T) => z.union([t, encrypted]);

const name = (what: string) =>
  z
    .string()
    .regex(PROJECT_NAME_RE, `${what} must start with a lower-case letter and use only a-z, 0-9 and _ (at most 31)`);
const port = z.number().int().min(1).max(65535);
const scalar = z.union([z.string(), z.number(), z.boolean()]);
const host = z.string().refine(isHostOrAddress, `must be ${HOST_RULE}`);
const oneLine = z.string().regex(ONE_LINE_RE, 'must be one line (no line break)');
const relativePath = z.string().regex(RELATIVE_PATH_RE, 'must be a path inside the repo (relative, no `..`, one line)');
const pythonRef = z.string().regex(PYTHON_REF_RE, 'must be a Python object reference such as `package.module:app`');
const unixName = (what: string) => z.string().regex(UNIX_NAME_RE, `${what} must be a Unix name (a-z, 0-9, _ and -, starting with a letter or _, at most 32)`);
const serverName = z.string().regex(SERVER_NAME_RE, 'a server name (letters, digits, _ . -, at most 63)');

export const serverSchema = z
  .strictObject({
    address: host.describe('IP address or DNS name ops connects to'),
    port: port.default(22).describe('SSH port (what sshd listens on; the firewall admits it)'),
    user: unixName('user').optional().describe('SSH user for first contact (later runs connect as your dev user)'),
    roles: z.array(z.string()).default([]).describe('roles: master, web, worker, balancer, db, queue, cache, or a project role'),
    via: serverName.optional().describe('reach this host through another one (usually `master`)'),
    private_address: host.optional().describe('address the other servers use to reach this one (default: address)'),
  })
  .describe('one server of the environment');

export const userSchema = z.strictObject({
  keys: z.array(z.string().regex(SSH_PUBLIC_KEY_RE, 'must be one OpenSSH public key line (type, base64, comment)')).default([]).describe('SSH public keys (authorized_keys lines)'),
  groups: z.array(unixName('a group')).default([]).describe('extra Unix groups'),
  sudo: z.boolean().default(true).describe('may use sudo (passwordless)'),
  shell: z.string().regex(ABSOLUTE_PATH_RE, 'must be an absolute path such as /bin/bash').default('/bin/bash'),
  absent: z.boolean().default(false).describe('remove the account and its home from every server'),
});

export const cronSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  schedule: z.string().regex(CRON_SCHEDULE_RE, 'must be five cron fields (minute hour day month weekday) or @daily, @hourly, …').describe('cron schedule, e.g. "*/5 * * * *"'),
  command: oneLine.min(1).describe('run in the current release, as the app user, with the app environment'),
  role: z.string().default('worker').describe('servers with this role run it (the first one only when once: true)'),
  once: z.boolean().default(true).describe('run on one server of the role, not all'),
});

export const projectRoleSchema = z.strictObject({
  description: z.string().optional(),
  states: relativePath.optional().describe('YAML file of states for this role, relative to the repo root'),
  requires: z.array(z.string()).default([]).describe('roles whose states must run first'),
});

/** The points of a deploy (and of a database copy) where a project's hooks run, in deploy order. */
export const HOOK_POINTS = ['before_deploy', 'after_converge', 'before_switch', 'after_release', 'after_rollback', 'before_db_swap', 'after_db_copy'] as const;
export type HookPoint = (typeof HOOK_POINTS)[number];

export const hookSchema = z.union([
  z.strictObject({ task: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'a task name (tasks/<name>.ts)').describe('a task of tasks/, run on the operator') }),
  z.strictObject({
    run: oneLine.min(1).describe('a shell line, run through sh -c as the app user in the release directory with the app\'s environment'),
    role: name('role').default('web').describe('run it on every host of this role'),
  }),
]);
const hookList = z.union([hookSchema, z.array(hookSchema)]);

const domainName = z.string().refine(isDomainName, 'must be a host name (letters, digits, - and .)');

/** Let's Encrypt's production directory, the default CA. */
export const LETS_ENCRYPT = 'https://acme-v02.api.letsencrypt.org/directory';

function isPemCertificates(v: string): boolean {
  const blocks = v.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (!blocks) return false;
  try {
    for (const b of blocks) new X509Certificate(b);
    return true;
  } catch {
    return false;
  }
}

export const pillarSchema = z
  .strictObject({
    // project.yml
    project: name('project').describe('short project name; used for users, paths and database names'),
    default_environment: z.string().regex(ENV_NAME_RE, `must be an environment name: ${ENV_NAME_RULE}`).optional().describe('environment used when none is given'),
    repo: z
      .strictObject({
        url: z.string().regex(GIT_URL_RE, `must be a git URL: ${GIT_URL_RULE}`).optional().describe('git URL of the application'),
        branch: z.string().regex(BRANCH_RE, 'must be a branch name').default('main'),
      })
      .default({ branch: 'main' }),
    app: z
      .strictObject({
        type: z.enum(['django', 'command', 'procfile']).default('django').describe('django; command (one start_command); procfile (the processes of the Procfile in the release, as on Heroku)'),
        manage_command: oneLine.min(1).optional().describe('run by manage-run, in the current release (django: python manage.py; other apps: the words after -- are the command)'),
        wsgi: pythonRef.optional().describe('WSGI application for gunicorn (django default: <project>.wsgi:application)'),
        start_command: oneLine.min(1).optional().describe('command that starts the app (type: command); must listen on $PORT'),
        requirements: relativePath.optional().describe('pip requirements file, relative to the app repo: each release gets a virtualenv (with the system packages visible)'),
        pip_args: z.array(oneLine).default([]).describe('extra pip install arguments, e.g. [--no-index, --find-links, wheels]'),
        port: port.default(8000).describe('port the app server listens on, for balancers'),
        workers: z.number().int().min(1).max(64).default(3).describe('gunicorn workers (django); WEB_CONCURRENCY for other apps'),
        collectstatic: z.boolean().default(true),
        packages: z.array(z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/, 'a Debian package name')).default([]).describe('Debian packages the app needs on web and worker hosts'),
      })
      .transform((a) => ({ ...a, manage_command: a.manage_command ?? (a.type === 'django' ? 'python manage.py' : '') }))
      .default({ type: 'django', manage_command: 'python manage.py', port: 8000, workers: 3, collectstatic: true, packages: [], pip_args: [] }),
    processes: z
      .record(
        z.string().regex(PROCESS_TYPE_RE, 'a Procfile process type (letters, digits, _ and -, at most 30)').refine((t) => t !== 'release', 'release is the release phase, not a process: it runs once per release'),
        z.strictObject({
          count: z.number().int().min(0).max(32).default(1).describe('instances of the process (systemd units <project>-<type>@1…N); 0 runs none'),
          role: z.enum(['web', 'worker']).optional().describe('hosts that run it (default: web for web, worker for every other type)'),
        }),
      )
      .default({})
      .describe('app.type procfile: how many of each Procfile process run, and where'),
    releases: z
      .strictObject({
        keep: z.number().int().min(2).max(100).default(5),
        batch: z
          .union([z.number().int().min(1).max(1000), z.string().regex(/^(100|[1-9][0-9]?)%$/, 'a count of web hosts, or a percentage from 1% to 100%')])
          .optional()
          .describe('web hosts switched at a time, each batch out of the balancers and checked before the next (a count, or a percentage rounded up; default: all at once)'),
      })
      .default({ keep: 5 }),
    healthcheck: z
      .strictObject({
        path: z.string().regex(URL_PATH_RE, 'must be a URL path: / then letters, digits and . _ ~ ! & ( ) * + , = : @ % / ? -').default('/'),
        status: z.number().int().min(100).max(599).default(200),
        timeout: z.number().int().min(1).max(600).default(10).describe('seconds'),
        contains: oneLine.optional().describe('text the response must contain'),
      })
      .default({ path: '/', status: 200, timeout: 10 }),
    roles: z.record(name('role'), projectRoleSchema).default({}).describe('roles of this project, beside the built-in ones'),
    hooks: z
      .strictObject(Object.fromEntries(HOOK_POINTS.map((p) => [p, hookList.optional()])) as Record<HookPoint, z.ZodOptional<typeof hookList>>)
      .default({})
      .describe('a task ({task: NAME}) or a shell line ({run: LINE, role: ROLE}), or a list of them, for each point of a deploy or database copy'),
    // devs.yml
    users: z.record(z.string().regex(UNIX_NAME_RE, 'a Unix user name'), userSchema).default({}),
    // <env>.yml
    domain: domainName.optional().describe('public host name of the site'),
    branch: z.string().regex(BRANCH_RE, 'must be a branch name').optional().describe('branch deployed to this environment (default: repo.branch)'),
    protected: orEncrypted(z.boolean()).optional().describe('refuse destructive operations unless overridden (default: true for production)'),
    lab: z.boolean().optional().describe('set by `ops lab`: hosts are lab machines'),
    servers: z.record(serverName, serverSchema).default({}),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name'), scalar).default({}),
    secrets: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a variable name'), z.string()).default({}),
    env_aliases: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name'), z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'the name of a variable of the app\'s environment'))
      .default({})
      .describe('more names for variables of the app\'s environment, e.g. CELERY_BROKER_URL: AMQP_URL (no value copied into the pillar)'),
    http_auth: z.record(z.string().regex(HTTP_USER_RE, 'a basic-auth user name (no : or blanks)'), z.string().min(1)).default({}).describe('basic-auth users (balancers only)'),
    cron: z.array(cronSchema).default([]),
    tls: z
      .strictObject({
        acme: z
          .strictObject({
            email: z.string().regex(EMAIL_RE, 'must be an email address (the CA writes to it about expiring certificates)').describe('contact address of the ACME account'),
            directory: z.string().refine(isHttpsUrl, 'must be the https:// URL of an ACME directory').default(LETS_ENCRYPT).describe('ACME directory URL (default: Let\'s Encrypt production)'),
            domains: z.array(z.string().refine(isDomainName, 'must be a host name (letters, digits, - and .; no wildcard: HTTP-01 cannot prove one; an IDN in its xn-- form)')).max(99, 'at most 99 names beside `domain` (a CA takes 100 per certificate)').default([]).describe('names beside `domain` in the same certificate'),
            directory_ca: z.string().refine(isPemCertificates, 'must be PEM certificates (-----BEGIN CERTIFICATE-----)').optional().describe("for a private ACME CA: the certificates that sign its directory's HTTPS (default: the system's)"),
            renew_before_days: z.number().int().min(1).max(3650).optional().describe('renew when fewer days are left (default: 30, or a third of a shorter lifetime)'),
            check_every: z
              .string()
              .regex(TIMESPAN_RE, 'must be a time span such as 12h, 30min, 1d')
              .refine((v) => !TIMESPAN_RE.test(v) || (timespanSeconds(v) >= 10 && timespanSeconds(v) <= 86_400), 'must be between 10s and 1d (a certificate must not expire between two checks)')
              .default('12h')
              .describe("how often the master's timer checks the certificate"),
          })
          .optional()
          .describe('certificates from an ACME CA (HTTP-01 through the balancers), issued by the master and renewed by a timer there'),
        hsts: z.boolean().default(false).describe('send Strict-Transport-Security from the balancers'),
      })
      .default({ hsts: false }),
    cache: z.strictObject({ backend: z.enum(['memcached', 'redis']).default('memcached') }).default({ backend: 'memcached' }),
    worker: z
      .strictObject({
        app: pythonRef.optional().describe('Celery app (default: <project>)'),
        concurrency: z.number().int().min(1).max(64).default(2),
        beat: z.boolean().default(true),
      })
      .default({ concurrency: 2, beat: true }),
    data: z.record(z.string(), z.unknown()).default({}).describe('free-form values for your own templates'),
  })
  .superRefine((p, ctx) => {
    const valid = new Set<string>([...BUILTIN_ROLES, ...Object.keys(ROLE_ALIASES), ...Object.keys(p.roles)]);
    if (RESERVED_ACCOUNTS.includes(p.project)) ctx.addIssue({ code: 'custom', path: ['project'], message: `'${p.project}' is an account of the system or of a role: pick another project name (it names the app user)` });
    for (const u of Object.keys(p.users)) {
      if (RESERVED_ACCOUNTS.includes(u) || u === p.project) ctx.addIssue({ code: 'custom', path: ['users', u], params: { atKey: true }, message: `'${u}' is ${u === p.project ? "the app's user" : 'an account of the system or of a role'}: an admin needs a name of their own` });
    }
    for (const point of HOOK_POINTS) {
      const list = p.hooks[point];
      (Array.isArray(list) ? list : list ? [list] : []).forEach((h, i) => {
        if ('role' in h && !valid.has(h.role)) ctx.addIssue({ code: 'custom', path: ['hooks', point, ...(Array.isArray(list) ? [i] : []), 'role'], message: `unknown role '${h.role}' (valid: ${[...BUILTIN_ROLES, ...Object.keys(p.roles)].join(', ')})` });
      });
    }
    p.cron.forEach((job, i) => {
      if (!valid.has(job.role)) ctx.addIssue({ code: 'custom', path: ['cron', i, 'role'], message: `unknown role '${job.role}' (valid: ${[...BUILTIN_ROLES, ...Object.keys(p.roles)].join(', ')})` });
    });
    if (Object.keys(p.processes).length > 0 && p.app.type !== 'procfile') ctx.addIssue({ code: 'custom', path: ['processes'], message: `processes are the Procfile's: they need app.type: procfile (this app is ${p.app.type})` });
    if (p.app.type === 'procfile') {
      // web hosts admit app.port … app.port + 63 from balancers (two sets of up to 32 web processes):
      // inside the port space, clear of the services' ports
      const last = p.app.port + 63;
      const taken = [22, 80, 443, 5432, 5672, 6379, 11211, 15672, 25672, 4369].filter((n) => n >= p.app.port && n <= last);
      if (last > 65535) ctx.addIssue({ code: 'custom', path: ['app', 'port'], message: `the web processes take ports ${p.app.port}–${last}: past 65535; pick an app.port of at most 65472` });
      else if (taken.length > 0) ctx.addIssue({ code: 'custom', path: ['app', 'port'], message: `the web processes take ports ${p.app.port}–${last}, which hold ${taken.join(', ')} (SSH, HTTP(S), PostgreSQL, RabbitMQ, Redis, memcached): pick another app.port` });
    }
    if (p.processes.web?.role === 'worker') ctx.addIssue({ code: 'custom', path: ['processes', 'web', 'role'], message: 'the web process runs on web hosts, behind the balancers' });
    if (p.tls.acme && !p.domain) ctx.addIssue({ code: 'custom', path: ['tls', 'acme'], message: 'a certificate from an ACME CA needs the site\'s `domain:`' });
    if (p.tls.acme && p.domain && p.domain.length > 64) ctx.addIssue({ code: 'custom', path: ['domain'], message: "at most 64 characters with tls.acme: it is the certificate's common name (put a longer name under tls.acme.domains)" });
    if (p.tls.acme && ('ssl_cert' in p.secrets || 'ssl_key' in p.secrets)) ctx.addIssue({ code: 'custom', path: ['tls', 'acme'], message: 'the pillar has both tls.acme and ssl_cert/ssl_key: keep one (the CA\'s certificate, or your own)' });
    let masters = 0;
    for (const [host, s] of Object.entries(p.servers)) {
      s.roles.forEach((r, i) => {
        if (!valid.has(r)) {
          ctx.addIssue({
            code: 'custom',
            path: ['servers', host, 'roles', i],
            message: `unknown role '${r}' (valid: ${[...BUILTIN_ROLES, ...Object.keys(p.roles)].join(', ')})`,
          });
        }
        if ((ROLE_ALIASES[r] ?? r) === 'master') masters++;
      });
    }
    if (masters > 1) ctx.addIssue({ code: 'custom', path: ['servers'], message: 'more than one server has the master role' });
  });

export type Pillar = z.output<typeof pillarSchema>;
export type Server = z.output<typeof serverSchema>;
export type DevUser = z.output<typeof userSchema>;

/** The schema as JSON Schema (draft 2020-12), for editors. */
export function pillarJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(pillarSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    ...schema,
    $id: 'https://ops.invalid/pillar.schema.json',
    title: 'ops pillar',
    description:
      'One file of an ops pillar (project.yml, devs.yml or <env>.yml). Files are merged, the environment winning; every key is optional in a single file, `project` is required once merged.',
    required: undefined,
  };
}
