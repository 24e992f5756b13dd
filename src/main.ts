/** Entry point of the bundled CLI (dist/ops.mjs). */
import { version } from './version.js';

// `ops … | head`: a closed pipe ends the output quietly, as it does for other Unix tools.
// Not for the commands a master runs for the operator (`__converge`, …): when the operator goes
// away they must finish cleanly (release the lock, switch back), so they handle it themselves.
const forOperator = process.argv.slice(2).some((a) => a.startsWith('__'));
for (const stream of forOperator ? [] : [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

if (process.argv[2] === '__lab-apt-proxy') {
  // Hidden entry: the lab's long-lived apt proxy process (started detached by `ops lab up`).
  const { runAptProxyFromArgv } = await import('./lab/index.js');
  await runAptProxyFromArgv(process.argv.slice(3));
} else if (process.argv.length === 3 && (process.argv[2] === '--version' || process.argv[2] === '-V')) {
  // (what commander would print, without loading the command definitions)
  process.stdout.write(`${version}\n`);
} else {
  const { runCli } = await import('./cli/program.js');
  const code = await runCli(process.argv, version);
  process.exitCode = code;
}
