// Type declarations of the `ops` module that task files import (`import { defineTask } from 'ops'`).
// Point your editor at them with a tsconfig.json in tasks/: { "compilerOptions": { "paths": { "ops": ["<ops checkout>/types/ops.d.ts"] } } }
export type * from '../src/tasks/types.js';
import type { TaskDefinition } from '../src/tasks/types.js';

/** Declares a task; `export default defineTask({...})` in `tasks/<name>.ts`. */
export declare function defineTask(definition: TaskDefinition): TaskDefinition;
/** The one shell quoting function of ops. */
export declare function quote(word: string): string;
/** zx's `$`, for commands on the machine the task runs on. */
export declare const $: typeof import('zx').$;
