// `node --import ./load-trace.mjs`: every module the process loads is appended, one URL a line,
// to the file named by OPS_LOAD_TRACE (Node's module hooks; test/cli/startup.test.ts reads it).
import { register } from 'node:module';

register('./load-trace-hooks.mjs', import.meta.url);
