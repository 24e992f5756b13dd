import { execFileSync } from 'node:child_process';

/**
 * Starts this machine's PostgreSQL clusters (installed by scripts/setup-machine.sh) if they are not
 * running: no services run when a CI machine starts, and a session's servers end with it. Every
 * test that talks to the local server calls this first.
 */
export function startLocalPostgres(): void {
  const clusters = execFileSync('pg_lsclusters', ['--no-header']).toString().trim().split('\n').filter(Boolean);
  if (clusters.length === 0) throw new Error('no local PostgreSQL cluster: run scripts/setup-machine.sh');
  for (const line of clusters) {
    const [version = '', name = '', , status] = line.trim().split(/\s+/);
    if (status !== 'online') execFileSync('pg_ctlcluster', [version, name, 'start'], { stdio: ['ignore', 'inherit', 'inherit'] });
  }
}
