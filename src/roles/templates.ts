/**
 * Config files come from nunjucks (Jinja-like) templates. A project's own `templates/` overrides
 * any built-in template by the same relative path; the built-in ones ship with ops (dist/templates).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import nunjucks from 'nunjucks';
import { UsageError } from '../errors.js';
import { quote } from '../ssh/quote.js';
import { cronCommand, htmlText, nginxString, pgHbaAddress, pythonString, systemdWord } from './escape.js';

/** The built-in templates: next to the bundle (dist/templates) or, from source, the repo's own. */
export function builtinTemplatesDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [join(here, '..', 'templates'), join(here, '..', '..', 'templates')]) {
    if (existsSync(join(candidate, 'base'))) return candidate;
  }
  throw new Error(`built-in templates not found near ${here}`);
}

class OverridingLoader implements nunjucks.ILoader {
  constructor(private readonly dirs: readonly string[]) {}
  getSource(name: string): nunjucks.LoaderSource {
    const rel = normalize(name);
    if (rel.startsWith('..') || rel.startsWith('/')) throw new UsageError(`template path '${name}' leaves the templates folder`);
    for (const d of this.dirs) {
      const full = join(d, rel);
      if (existsSync(full)) return { src: readFileSync(full, 'utf8'), path: full, noCache: false };
    }
    throw new UsageError(`template '${name}' not found (looked in ${this.dirs.join(', ')})`);
  }
}

export interface Templates {
  render(name: string, vars: Record<string, unknown>): string;
}

export function templates(projectDir: string | undefined): Templates {
  const dirs = [...(projectDir ? [projectDir] : []), builtinTemplatesDir()];
  const env = new nunjucks.Environment(new OverridingLoader(dirs), { autoescape: false, throwOnUndefined: true, trimBlocks: true, lstripBlocks: true });
  // The escaping functions of each format (src/roles/escape.ts), for the built-in and a project's templates.
  env.addFilter('sh', (v: unknown) => quote(String(v)));
  env.addFilter('systemd', (v: unknown) => systemdWord(String(v)));
  env.addFilter('cron', (v: unknown) => cronCommand(String(v)));
  env.addFilter('nginx', (v: unknown) => nginxString(String(v)));
  env.addFilter('pg_hba', (v: unknown) => pgHbaAddress(String(v)));
  env.addFilter('py', (v: unknown) => pythonString(String(v)));
  env.addFilter('html', (v: unknown) => htmlText(String(v)));
  return {
    render(name, vars) {
      try {
        return env.render(name, vars);
      } catch (e) {
        if (e instanceof UsageError) throw e;
        throw new UsageError(`template ${name}: ${(e as Error).message.replace(/\s+/g, ' ').trim()}`);
      }
    },
  };
}
