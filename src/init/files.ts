/**
 * The files `ops init` writes, as text with comments. Every value that comes from the repo or
 * the user goes through `yamlScalar` (YAML's own quoting), and every file is loaded back by the
 * pillar loader before anything is written.
 */
import { parse, stringify } from 'yaml';
import type { Detected } from './detect.js';

export interface InitAnswers {
  project: string;
  /** type: command */
  startCommand?: string;
  repoUrl?: string;
  branch: string;
  /** pillar/devs.yml: this user with this key */
  admin?: { user: string; key: string; from: string };
}

/** One YAML scalar, quoted when YAML needs it to stay the string it is. */
export function yamlScalar(v: string | number | boolean): string {
  const plain = stringify(v, { lineWidth: 0 }).replace(/\n$/, '');
  if (!plain.includes('\n') && parse(plain) === v) return plain;
  // a block scalar (a value starting with --- or ...) or one that would not read back: double-quoted
  const quoted = stringify(v, { lineWidth: 0, defaultStringType: 'QUOTE_DOUBLE' }).replace(/\n$/, '');
  if (quoted.includes('\n') || parse(quoted) !== v) throw new Error(`cannot write ${JSON.stringify(v)} as one YAML scalar`);
  return quoted;
}

const flow = (xs: string[]) => `[${xs.map(yamlScalar).join(', ')}]`;

/** The Django settings module ops writes for a project whose settings do not read the environment. */
export function opsSettingsModule(d: Detected): string | undefined {
  if (!d.django || d.django.readsEnvironment) return undefined;
  const parts = d.django.settings.split('.');
  return [...parts.slice(0, -1), `${parts[parts.length - 1]}_ops`].join('.');
}

export function projectYml(d: Detected, a: InitAnswers): string {
  const dj = d.django;
  const type = d.procfile ? 'procfile' : dj ? 'django' : 'command';
  const found = dj ? `a Django project (${dj.settings})${d.procfile ? ' with a Procfile' : ''}` : d.procfile ? `a Procfile (${d.procfile.join(', ')})` : 'a start command';
  const settings = opsSettingsModule(d) ?? dj?.settings;
  // Debian's Django links the admin's jQuery from libjs-jquery, only a Recommends of it (ops installs without those)
  const packages = ['gunicorn', 'python3-psycopg2', ...(dj && !d.requirements ? ['python3-django', 'libjs-jquery'] : []), ...(dj?.celery ? ['python3-celery'] : [])];
  const lines = [
    `# Project-wide pillar, shared by every environment (merged first; pillar/<env>.yml wins).`,
    `# Made by \`ops init\` from ${found.replace(/[\r\n]/g, ' ')}.`,
    `# The whole contract is in README ("Pillar reference"); \`ops pillar schema\` prints it as`,
    `# JSON Schema for editor completion.`,
    ``,
    `# Short name: the app user, /var/www/<project>/ and the database <project>_<env>.`,
    `project: ${yamlScalar(a.project)}`,
    ``,
    `# Environment used when none is given on the command line (or in OPS_ENV).`,
    `default_environment: staging`,
    ``,
    `# Where the servers fetch the app from (the master clones it with the deploy key:`,
    `# \`ops deploy-key ENV --write\`, then add the public part to the repository's deploy keys).`,
    `repo:`,
    a.repoUrl ? `  url: ${yamlScalar(a.repoUrl)}` : `  # url: git@github.com:you/${a.project}.git`,
    `  branch: ${yamlScalar(a.branch)}`,
    ``,
    `app:`,
    `  type: ${type}`,
  ];
  if (dj) lines.push(`  manage_command: python manage.py      # ops manage-run / manage-shell`);
  if (type === 'django') lines.push(`  wsgi: ${yamlScalar(dj?.wsgi as string)}`);
  if (type === 'command') lines.push(`  start_command: ${yamlScalar(a.startCommand as string)}   # must listen on $PORT`);
  if (d.requirements) lines.push(`  requirements: ${yamlScalar(d.requirements)}   # each release gets a virtualenv (pip needs the index reachable)`);
  lines.push(
    `  port: 8000`,
    `  workers: 3`,
    `  # Debian packages the app needs on web and worker hosts${d.requirements ? ' (beside the virtualenv)' : ''}.`,
    `  packages: ${flow(packages)}`,
  );
  if (settings) {
    lines.push(``, `env:`, `  DJANGO_SETTINGS_MODULE: ${yamlScalar(settings)}`);
  }
  if (dj?.celery && dj.celery !== a.project) lines.push(``, `worker:`, `  app: ${yamlScalar(dj.celery)}   # the Celery app hosts with the worker role run`);
  const health = dj?.admin ? '/admin/login/' : '/';
  lines.push(
    ``,
    `# The release is switched only when this answers: best a page that reads the database.`,
    `healthcheck:`,
    `  path: ${health}`,
    `  status: 200`,
    ``,
  );
  return lines.join('\n');
}

export function devsYml(a: InitAnswers): string {
  const head = [
    `# People who administer the servers. Each becomes a Unix user on every server, with these`,
    `# SSH keys and (by default) passwordless sudo. ops connects as your own user after the first`,
    `# deploy (-u, OPS_USER, or your local user name). Removing someone here removes their access.`,
  ];
  if (!a.admin) {
    return [
      ...head,
      `# \`ops init\` found no SSH public key of yours (~/.ssh/id_ed25519.pub, id_ecdsa.pub, id_rsa.pub):`,
      `# add yourself before the first deploy.`,
      `users: {}`,
      `  # alice:`,
      `  #   keys:`,
      `  #     - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA... alice@laptop`,
      ``,
    ].join('\n');
  }
  return [...head, `users:`, `  ${yamlScalar(a.admin.user)}:`, `    keys:`, `      - ${yamlScalar(a.admin.key)}   # ${a.admin.from.replace(/[\r\n]/g, ' ')}`, ``].join('\n');
}

export function stagingYml(a: InitAnswers): string {
  return [
    `# The staging environment. Servers are added by ops as you set them up:`,
    `#   ops setup-master staging -H ADDRESS                 (holds the environment's key)`,
    `#   ops setup-minion staging web,balancer,db -H ADDRESS`,
    `# Secrets are encrypted per value to the key on the master:`,
    `#   ops encrypt staging SECRET_KEY --generate 64 --write`,
    ``,
    `# Public host name of the site (nginx server_name, the certificate, the app's DOMAIN).`,
    `domain: staging.${a.project.replace(/_/g, '-')}.example.com`,
    ``,
    `# branch: main                 # deployed here (default: repo.branch)`,
    `# tls:`,
    `#   acme: {email: you@example.com}    # a certificate from Let's Encrypt (else self-signed)`,
    ``,
    `env: {}`,
    `  # DJANGO_DEBUG: "0"`,
    ``,
  ].join('\n');
}

export function labYml(a: InitAnswers): string {
  return [
    `# The lab environment: real Debian hosts on this machine (\`ops lab up\`, root, Linux).`,
    `# \`ops lab up\` writes the hosts' inventory, keys and secrets to .ops/ (git-ignored).`,
    `domain: ${a.project.replace(/_/g, '-')}.lab.invalid`,
    `protected: false`,
    ``,
  ].join('\n');
}

/** Django settings for servers ops deploys: the project's own, then what ops's environment gives. */
export function settingsOpsPy(d: Detected): string {
  return `"""Settings for servers that ops deploys: the project's own settings, then ops's environment.

Written by \`ops init\` (DJANGO_SETTINGS_MODULE points here in pillar/project.yml); yours to edit.
ops's environment file gives SECRET_KEY (a secret: \`ops encrypt ENV SECRET_KEY --generate 64
--write\`), DOMAIN, DB_NAME/DB_USER/DB_PASSWORD/DB_HOST/DB_PORT, STATIC_ROOT and MEDIA_ROOT.
"""
import os

from ${d.django?.settings} import *  # noqa: F401,F403

env = os.environ.get

SECRET_KEY = os.environ["SECRET_KEY"]
DEBUG = env("DJANGO_DEBUG", "0") == "1"
ALLOWED_HOSTS = [h for h in [env("DOMAIN"), "localhost", "127.0.0.1"] if h] + env("EXTRA_ALLOWED_HOSTS", "").split()
CSRF_TRUSTED_ORIGINS = [f"https://{env('DOMAIN')}"] if env("DOMAIN") else []
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

if env("DB_HOST"):
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": env("DB_NAME"),
            "USER": env("DB_USER"),
            "PASSWORD": env("DB_PASSWORD", ""),
            "HOST": env("DB_HOST"),
            "PORT": env("DB_PORT", "5432"),
            "CONN_MAX_AGE": 60,
        }
    }
${d.django?.celery ? `
if env("AMQP_URL"):
    CELERY_BROKER_URL = env("AMQP_URL")
` : ''}
STATIC_URL = globals().get("STATIC_URL") or "/static/"
STATIC_ROOT = env("STATIC_ROOT") or globals().get("STATIC_ROOT")
MEDIA_URL = globals().get("MEDIA_URL") or "/media/"
MEDIA_ROOT = env("MEDIA_ROOT") or globals().get("MEDIA_ROOT")
`;
}
