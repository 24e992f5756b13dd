/**
 * Finding, compiling and loading task files. On the operator's machine a task file (TypeScript or
 * JavaScript) is bundled by esbuild into one ES module — types stripped, never checked — in which
 * `import … from 'ops'` is ops itself; a task that runs on the master travels as that module, so the
 * master never needs esbuild. The module is evaluated from memory: nothing is written to disk.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { errorMessage, UsageError } from '../errors.js';
import type { Repo } from '../repo.js';
import { checkDefinition, TASK_NAME_RE } from './define.js';
import type { TaskDefinition } from './types.js';

export const TASK_API_KEY = Symbol.for('ops.task-api');
const EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'];

export interface TaskFile {
  name: string;
  path: string;
  /** Repo-relative, for messages: tasks/backup.ts */
  display: string;
}

export function tasksDir(repo: Repo): string {
  return join(repo.root, 'tasks');
}

/** The task files of a repo, by name (`_name.ts` files and `.d.ts` are helpers, not tasks). */
export function taskFiles(repo: Repo): TaskFile[] {
  const dir = tasksDir(repo);
  if (!existsSync(dir)) return [];
  const files: TaskFile[] = [];
  for (const f of readdirSync(dir).sort()) {
    const ext = EXTENSIONS.find((e) => f.endsWith(e));
    if (!ext || f.endsWith('.d.ts') || f.startsWith('_') || f.startsWith('.')) continue;
    const name = f.slice(0, -ext.length);
    const path = join(dir, f);
    const display = relative(repo.root, path);
    if (!TASK_NAME_RE.test(name)) throw new UsageError(`${display}:1:1: a task file is named after its task: lower-case letters, digits and dashes`);
    if (files.some((t) => t.name === name)) throw new UsageError(`${display}:1:1: two files define task '${name}'`, `keep one of ${files.find((t) => t.name === name)?.display} and ${display}`);
    files.push({ name, path, display });
  }
  return files;
}

interface EsbuildMessage {
  text: string;
  location?: { file: string; line: number; column: number } | null;
}

/** One ES module (as text) of a task file and what it imports from the repo; `ops` stays ops. */
export async function compileTask(repo: Repo, file: TaskFile): Promise<string> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch {
    throw new UsageError('tasks need esbuild, which comes with ops: run `npm install` in the ops checkout');
  }
  try {
    const out = await esbuild.build({
      entryPoints: [file.path],
      absWorkingDir: repo.root,
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'node',
      target: 'node18.19',
      logLevel: 'silent',
      sourcemap: false,
      plugins: [
        {
          name: 'ops-api',
          setup(b) {
            b.onResolve({ filter: /^ops$/ }, () => ({ path: 'ops', namespace: 'ops-api' }));
            b.onLoad({ filter: /.*/, namespace: 'ops-api' }, () => ({
              contents: `const api = globalThis[Symbol.for('ops.task-api')];\nexport const defineTask = api.defineTask;\nexport const quote = api.quote;\nexport const $ = api.$;\nexport default api;\n`,
              loader: 'js',
            }));
          },
        },
      ],
    });
    const [js] = out.outputFiles;
    return js ? js.text : '';
  } catch (e) {
    const [first] = ((e as { errors?: EsbuildMessage[] }).errors ?? []) as EsbuildMessage[];
    if (first) {
      const loc = first.location;
      const where = loc ? `${loc.file}:${loc.line}:${loc.column + 1}` : `${file.display}:1:1`;
      throw new UsageError(`${where}: ${first.text}`);
    }
    throw new UsageError(`${file.display}:1:1: ${errorMessage(e)}`);
  }
}

/** Evaluates a compiled task module and returns its checked definition. */
export async function evaluateTask(code: string, display: string, api: Record<string, unknown>): Promise<TaskDefinition> {
  (globalThis as Record<symbol, unknown>)[TASK_API_KEY] = api;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`)) as Record<string, unknown>;
  } catch (e) {
    throw new UsageError(`${display}:1:1: the task file fails as it loads: ${errorMessage(e)}`);
  }
  const exported = mod.default ?? Object.values(mod).find((v) => typeof v === 'object' && v !== null && 'run' in v);
  return checkDefinition(exported, display);
}
