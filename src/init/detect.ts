/**
 * What `ops init` learns from an app's repo before it writes anything: a Django project
 * (manage.py, its settings module, WSGI module, requirements file, Celery app), a Procfile, or
 * neither (then a start command is needed). Read from the files only; nothing is run.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { OpsError, UsageError } from '../errors.js';
import { PROJECT_NAME_RE } from '../pillar/forms.js';
import { parseProcfile } from '../release/processes.js';

export interface DjangoApp {
  kind: 'django';
  /** e.g. mysite.settings */
  settings: string;
  /** the file of that module, repo-relative */
  settingsFile: string;
  /** whether the settings read the process environment (else ops writes settings_ops.py) */
  readsEnvironment: boolean;
  /** gunicorn's form: mysite.wsgi:application */
  wsgi: string;
  /** the Django package: mysite */
  package: string;
  /** a Celery app module (mysite/celery.py): its package */
  celery?: string;
  /** django.contrib.admin is installed (its login page answers 200 without a login) */
  admin: boolean;
}

export interface Detected {
  dir: string;
  django?: DjangoApp;
  procfile?: string[];
  requirements?: string;
  /** a name from the repo: the Django package, else the folder */
  suggestedName: string;
}

const REQUIREMENTS = ['requirements.txt', 'requirements/production.txt', 'requirements/prod.txt', 'requirements/base.txt'];
const MODULE_RE = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$/;

function read(file: string): string | undefined {
  try {
    return statSync(file).isFile() ? readFileSync(file, 'utf8') : undefined;
  } catch {
    return undefined;
  }
}

export function detectApp(dir: string): Detected {
  const found: Detected = { dir, suggestedName: basename(dir) };
  found.requirements = REQUIREMENTS.find((r) => existsSync(join(dir, r)));
  const procfile = read(join(dir, 'Procfile'));
  if (procfile !== undefined) {
    // read as a deploy reads it: a Procfile a release would refuse is refused here
    try {
      found.procfile = [...parseProcfile(procfile).keys()];
    } catch (e) {
      throw e instanceof OpsError ? new UsageError(e.message, 'fix the Procfile, or move it away to start from the Django project or a start command') : e;
    }
  }
  const manage = read(join(dir, 'manage.py'));
  if (manage !== undefined) {
    const settings = /DJANGO_SETTINGS_MODULE['"]\s*,\s*(['"])([^'"\n]+)\1/.exec(manage)?.[2];
    if (settings && MODULE_RE.test(settings)) {
      const rel = settings.split('.').join('/');
      const settingsFile = [`${rel}.py`, `${rel}/__init__.py`].find((f) => read(join(dir, f)) !== undefined);
      if (!settingsFile) throw new UsageError(`manage.py names the settings module ${settings}, but neither ${rel}.py nor ${rel}/__init__.py is a file here`, 'run ops init in the folder manage.py is in');
      const text = settingsFile ? (read(join(dir, settingsFile)) ?? '') : '';
      const pkg = settings.split('.')[0] as string;
      const wsgiSetting = /^WSGI_APPLICATION\s*=\s*['"]([^'"]+)['"]/m.exec(text)?.[1];
      const wsgiModule = wsgiSetting && MODULE_RE.test(wsgiSetting) ? wsgiSetting.split('.').slice(0, -1).join('.') : `${pkg}.wsgi`;
      const wsgiName = wsgiSetting && MODULE_RE.test(wsgiSetting) ? (wsgiSetting.split('.').pop() as string) : 'application';
      found.django = {
        kind: 'django',
        settings,
        settingsFile,
        readsEnvironment: /os\.environ|os\.getenv|environ\.Env|from decouple|dj_database_url|env\(/.test(text),
        wsgi: `${wsgiModule}:${wsgiName}`,
        package: pkg,
        celery: existsSync(join(dir, pkg, 'celery.py')) ? pkg : undefined,
        admin: /['"]django\.contrib\.admin['"]/.test(text),
      };
      found.suggestedName = pkg;
    }
  }
  return found;
}

/** A project name ops accepts (a-z, 0-9, _; a letter first; at most 31), made from a folder or package name. */
export function projectName(from: string): string | undefined {
  const name = from
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^[^a-z]+/, '')
    .slice(0, 31)
    .replace(/_+$/, '');
  return PROJECT_NAME_RE.test(name) ? name : undefined;
}
