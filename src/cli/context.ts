/**
 * What every command gets: global options, output, the repo (found lazily) and the
 * environment resolution rules of DESIGN §1.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { findRepo, type Repo } from '../repo.js';
import { Output } from '../ui/output.js';
import { listEnvironments, readDefaultEnvironment } from '../pillar/files.js';
import { checkEnvironmentName, isEnvironmentName } from '../pillar/forms.js';

export interface GlobalOptions {
  root?: string;
  env?: string;
  json?: boolean;
  debug?: boolean;
  color?: boolean;
}

export class Context {
  readonly opts: GlobalOptions;
  readonly out: Output;
  private repoCache: Repo | undefined;

  constructor(opts: GlobalOptions) {
    this.opts = opts;
    this.out = new Output({ json: opts.json, color: opts.color === false ? false : undefined });
  }

  get repo(): Repo {
    this.repoCache ??= findRepo(this.opts.root);
    return this.repoCache;
  }

  /** True when `pillar/<name>.yml` (or `.sls`) exists. */
  isEnvironment(name: string): boolean {
    if (!isEnvironmentName(name)) return false;
    return listEnvironments(this.repo).includes(name);
  }

  /**
   * Picks the environment: a leading positional argument naming an existing environment,
   * then -e/--env, OPS_ENV, `default_environment` in project.yml. Returns it and the
   * remaining positional arguments.
   */
  resolveEnv(args: readonly string[]): { env: string; rest: string[] } {
    const [first, ...others] = args;
    const flag = this.opts.env;
    if (first !== undefined && this.isEnvironment(first)) {
      if (flag !== undefined && flag !== first) {
        throw new UsageError(`environment given twice and they disagree: '${first}' (argument) and '${flag}' (-e)`);
      }
      return { env: first, rest: others };
    }
    const env = flag ?? (process.env.OPS_ENV || undefined) ?? readDefaultEnvironment(this.repo);
    const known = listEnvironments(this.repo);
    if (env !== undefined) checkEnvironmentName(env, `environment name (from ${flag !== undefined ? '-e' : process.env.OPS_ENV ? 'OPS_ENV' : 'default_environment'})`);
    if (env === undefined) {
      throw new UsageError(
        `no environment given`,
        `name one as the first argument, with -e/--env, OPS_ENV or default_environment in pillar/project.yml (environments: ${known.join(', ') || 'none'})`,
      );
    }
    if (!known.includes(env)) {
      const source = flag !== undefined ? '-e' : process.env.OPS_ENV ? 'OPS_ENV' : 'default_environment';
      throw new UsageError(
        `unknown environment '${env}' (from ${source}): there is no ${join('pillar', `${env}.yml`)}`,
        `environments: ${known.join(', ') || 'none'}`,
      );
    }
    return { env, rest: [...args] };
  }

  /** Resolves the environment when the command takes no other positional arguments. */
  envOnly(args: readonly string[]): string {
    const { env, rest } = this.resolveEnv(args);
    if (rest.length > 0) {
      const extra = rest[0] ?? '';
      if (existsSync(join(this.repo.pillarDir, `${extra}.yml`)) === false && args[0] === extra) {
        throw new UsageError(`unknown environment '${extra}'`, `environments: ${listEnvironments(this.repo).join(', ')}`);
      }
      throw new UsageError(`unexpected argument '${extra}'`);
    }
    return env;
  }
}
