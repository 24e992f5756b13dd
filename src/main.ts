/** Entry point of the bundled CLI (dist/ops.mjs). */
import { runCli } from './cli/program.js';

declare const OPS_VERSION: string;
const version = typeof OPS_VERSION === 'string' ? OPS_VERSION : '0.0.0-dev';

// `ops … | head`: a closed pipe ends the output quietly, as it does for other Unix tools.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

if (process.argv[2] === '__lab-apt-proxy') {
  // Hidden entry: the lab's long-lived apt proxy process (started detached by `ops lab up`).
  const { runAptProxyFromArgv } = await import('./lab/index.js');
  await runAptProxyFromArgv(process.argv.slice(3));
} else {
  const code = await runCli(process.argv, version);
  process.exitCode = code;
}
