/**
 * The pillar contract: what project.yml, devs.yml and <env>.yml may hold once merged.
 * Every later capability reads the typed result; `ops pillar schema` emits it as JSON Schema.
 * Any value may be an OpenPGP-encrypted block (armored PGP MESSAGE), not only secrets.
 */
import { z } from 'zod';
import { PGP_MESSAGE_RE } from './encrypted.js';

export const BUILTIN_ROLES = ['master', 'web', 'worker', 'balancer', 'db', 'queue', 'cache'] as const;
export type BuiltinRole = (typeof BUILTIN_ROLES)[number];
export const ROLE_ALIASES: Readonly<Record<string, BuiltinRole>> = { 'salt-master': 'master', 'db-master': 'db' };

const encrypted = z.string().regex(PGP_MESSAGE_RE).describe('an armored OpenPGP message (made with `ops encrypt`)');
const orEncrypted = <T extends z.ZodType>(t: T) => z.union([t, encrypted]);

const name = (what: string) =>
  z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,30}$/, `${what} must start with a lower-case letter and use only a-z, 0-9 and _ (at most 31)`);
const port = z.number().int().min(1).max(65535);
const scalar = z.union([z.string(), z.number(), z.boolean()]);

export const serverSchema = z
  .strictObject({
    address: z.string().min(1).describe('IP address or DNS name ops connects to'),
    port: port.default(22).describe('SSH port'),
    user: z.string().min(1).optional().describe('SSH user for first contact (later runs connect as your dev user)'),
    roles: z.array(z.string()).default([]).describe('roles: master, web, worker, balancer, db, queue, cache, or a project role'),
    via: z.string().optional().describe('reach this host through another one (usually `master`)'),
    private_address: z.string().optional().describe('address the other servers use to reach this one (default: address)'),
  })
  .describe('one server of the environment');

export const userSchema = z.strictObject({
  keys: z.array(z.string().min(1)).default([]).describe('SSH public keys (authorized_keys lines)'),
  groups: z.array(z.string()).default([]).describe('extra Unix groups'),
  sudo: z.boolean().default(true).describe('may use sudo (passwordless)'),
  shell: z.string().default('/bin/bash'),
});

export const cronSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_-]+$/),
  schedule: z.string().min(9).describe('cron schedule, e.g. "*/5 * * * *"'),
  command: z.string().min(1).describe('run in the current release, as the app user, with the app environment'),
  role: z.string().default('worker').describe('servers with this role run it (the first one only when once: true)'),
  once: z.boolean().default(true).describe('run on one server of the role, not all'),
});

export const projectRoleSchema = z.strictObject({
  description: z.string().optional(),
  states: z.string().optional().describe('YAML file of states for this role, relative to the repo root'),
  requires: z.array(z.string()).default([]).describe('roles whose states must run first'),
});

export const pillarSchema = z
  .strictObject({
    // project.yml
    project: name('project').describe('short project name; used for users, paths and database names'),
    default_environment: z.string().optional().describe('environment used when none is given'),
    repo: z
      .strictObject({
        url: z.string().min(1).optional().describe('git URL of the application'),
        branch: z.string().min(1).default('main'),
      })
      .default({ branch: 'main' }),
    app: z
      .strictObject({
        type: z.enum(['django', 'command']).default('django').describe('django, or any app started by start_command'),
        manage_command: z.string().default('python manage.py').describe('run by manage-run, in the current release'),
        wsgi: z.string().optional().describe('WSGI application for gunicorn (django default: <project>.wsgi:application)'),
        start_command: z.string().optional().describe('command that starts the app (type: command); must listen on $PORT'),
        requirements: z.string().optional().describe('pip requirements file, relative to the app repo: each release gets a virtualenv (with the system packages visible)'),
        pip_args: z.array(z.string()).default([]).describe('extra pip install arguments, e.g. [--no-index, --find-links, wheels]'),
        port: port.default(8000).describe('port the app server listens on, for balancers'),
        workers: z.number().int().min(1).max(64).default(3),
        collectstatic: z.boolean().default(true),
        packages: z.array(z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/, 'a Debian package name')).default([]).describe('Debian packages the app needs on web and worker hosts'),
      })
      .default({ type: 'django', manage_command: 'python manage.py', port: 8000, workers: 3, collectstatic: true, packages: [], pip_args: [] }),
    releases: z.strictObject({ keep: z.number().int().min(2).max(100).default(5) }).default({ keep: 5 }),
    healthcheck: z
      .strictObject({
        path: z.string().startsWith('/').default('/'),
        status: z.number().int().min(100).max(599).default(200),
        timeout: z.number().int().min(1).max(600).default(10).describe('seconds'),
        contains: z.string().optional().describe('text the response must contain'),
      })
      .default({ path: '/', status: 200, timeout: 10 }),
    roles: z.record(name('role'), projectRoleSchema).default({}).describe('roles of this project, beside the built-in ones'),
    // devs.yml
    users: z.record(z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'a Unix user name'), userSchema).default({}),
    // <env>.yml
    domain: z.string().optional().describe('public host name of the site'),
    branch: z.string().optional().describe('branch deployed to this environment (default: repo.branch)'),
    protected: orEncrypted(z.boolean()).optional().describe('refuse destructive operations unless overridden (default: true for production)'),
    lab: z.boolean().optional().describe('set by `ops lab`: hosts are lab machines'),
    servers: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a host name'), serverSchema).default({}),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name'), scalar).default({}),
    secrets: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a variable name'), z.string()).default({}),
    http_auth: z.record(z.string().min(1), z.string()).default({}).describe('basic-auth users (balancers only)'),
    cron: z.array(cronSchema).default([]),
    cache: z.strictObject({ backend: z.enum(['memcached', 'redis']).default('memcached') }).default({ backend: 'memcached' }),
    worker: z
      .strictObject({
        app: z.string().optional().describe('Celery app (default: <project>)'),
        concurrency: z.number().int().min(1).max(64).default(2),
        beat: z.boolean().default(true),
      })
      .default({ concurrency: 2, beat: true }),
    data: z.record(z.string(), z.unknown()).default({}).describe('free-form values for your own templates'),
  })
  .superRefine((p, ctx) => {
    const valid = new Set<string>([...BUILTIN_ROLES, ...Object.keys(ROLE_ALIASES), ...Object.keys(p.roles)]);
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
