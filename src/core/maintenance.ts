/**
 * Maintenance mode: every balancer answers 503 with a page (template balancer/maintenance.html.njk)
 * to every request but the health check (and the ACME challenge, on port 80); nginx looks for the
 * file `on` at each request, so turning it on or off reloads nothing.
 */
import { errorMessage } from '../errors.js';
import { maintenanceDir } from '../roles/balancer.js';
import { captureExec, renderCommand } from '../ssh/command.js';
import { quote } from '../ssh/quote.js';
import { mapLimit, type SshSession } from '../ssh/session.js';
import type { Target } from '../ssh/target.js';

export const DEFAULT_MESSAGE = 'The site is down for maintenance and will be back shortly.';

/** The shell line for one balancer: the page arrives on stdin (never in argv). */
export function maintenanceScript(project: string, on: boolean): string {
  const d = maintenanceDir(project);
  if (!on) return `rm -f ${quote(`${d}/on`)}`;
  return ['set -e', `install -d -m 0755 ${quote(d)}`, `cat > ${quote(`${d}/.index.html.new`)}`, `chmod 0644 ${quote(`${d}/.index.html.new`)}`, `mv -f ${quote(`${d}/.index.html.new`)} ${quote(`${d}/index.html`)}`, `touch ${quote(`${d}/on`)}`].join('\n');
}

export async function setMaintenance(session: SshSession, project: string, balancers: Target[], on: boolean, page: string): Promise<{ host: string; ok: boolean; error?: string }[]> {
  return mapLimit(balancers, 32, async (t) => {
    try {
      const conn = await session.connect(t);
      const r = await captureExec(conn, renderCommand({ line: maintenanceScript(project, on) }, { sudo: true }, { loginUser: conn.user }), on ? Buffer.from(page, 'utf8') : undefined);
      return r.code === 0 ? { host: t.name, ok: true } : { host: t.name, ok: false, error: r.err.trim().split('\n').slice(-2).join(' ') || `exit ${r.code}` };
    } catch (e) {
      return { host: t.name, ok: false, error: errorMessage(e) };
    }
  });
}
