/** Entry point of the bundled CLI (dist/ops.mjs). */
import { runCli } from './cli/program.js';

declare const OPS_VERSION: string;
const version = typeof OPS_VERSION === 'string' ? OPS_VERSION : '0.0.0-dev';

process.exitCode = await runCli(process.argv, version);
