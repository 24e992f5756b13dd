/**
 * One row per host of an environment: reachable, OS, roles, the live release (its commit, who
 * deployed it and when), the units its roles run (an enabled one that is not active is down),
 * disk and memory use, and on balancers the served certificate's expiry — read in one round trip
 * per host, as root.
 */
import { errorMessage } from '../errors.js';
import type { Pillar } from '../pillar/schema.js';
import { appPaths } from '../roles/app.js';
import { maintenanceDir } from '../roles/balancer.js';
import { captureExec, renderCommand } from '../ssh/command.js';
import { quote } from '../ssh/quote.js';
import { mapLimit, type SshSession } from '../ssh/session.js';
import type { Target } from '../ssh/target.js';
import { balancerCertificate } from '../tls/paths.js';
import { roleUnits } from './units.js';

export interface UnitState {
  unit: string;
  active: string;
  enabled: string;
}

export interface HostStatus {
  host: string;
  reachable: boolean;
  error?: string;
  os?: string;
  roles: string[];
  release?: { id: string; commit?: string; by?: string; at?: string };
  units: UnitState[];
  /** enabled units that are not active */
  down: string[];
  disk_used_pct?: number;
  memory_used_pct?: number;
  /** the served certificate's notAfter (ISO), balancers only */
  certificate_expires?: string;
  /** balancers: `ops maintenance on` */
  maintenance?: boolean;
}

/** The shell script that reads a host's status (only ops's own words: unit patterns and paths quoted). */
export function statusScript(pillar: Pillar, env: string, roles: readonly string[]): string {
  const p = appPaths(pillar);
  const lines = [
    `printf 'os %s\\n' "$(. /etc/os-release 2>/dev/null; echo "$PRETTY_NAME")"`,
    `df -P / | awk 'NR==2 {sub("%","",$5); print "disk", $5}'`,
    `awk '/^MemTotal:/ {t=$2} /^MemAvailable:/ {a=$2} END {if (t) printf "mem %d\\n", (t-a)*100/t}' /proc/meminfo`,
  ];
  for (const pattern of roleUnits(pillar, env, roles)) {
    lines.push(`systemctl list-units --all --plain --no-legend ${quote(pattern)} | while read -r u load active rest; do printf 'unit %s %s %s\\n' "$u" "$active" "$(systemctl is-enabled "$u" 2>/dev/null || true)"; done`);
  }
  if (roles.includes('web') || roles.includes('worker')) {
    lines.push(`r=$(readlink ${quote(p.current)} 2>/dev/null) && printf 'release %s\\n' "\${r##*/}" && printf 'meta %s\\n' "$(tr -d '\\n' < ${quote(p.current)}/.ops-release.json 2>/dev/null)"`);
  }
  if (roles.includes('balancer') && pillar.domain) {
    lines.push(`openssl x509 -noout -enddate -in ${quote(balancerCertificate(pillar, pillar.domain).cert)} 2>/dev/null | sed 's/^notAfter=/cert /'`);
  }
  if (roles.includes('balancer')) lines.push(`[ -f ${quote(`${maintenanceDir(pillar.project)}/on`)} ] && echo 'maintenance on' || echo 'maintenance off'`);
  lines.push('true');
  return lines.join('\n');
}

export function parseStatus(host: string, roles: string[], out: string): HostStatus {
  const s: HostStatus = { host, reachable: true, roles, units: [], down: [] };
  for (const line of out.split('\n')) {
    const [what, ...rest] = line.split(' ');
    const value = rest.join(' ');
    if (what === 'os') s.os = value;
    else if (what === 'disk' && value) s.disk_used_pct = Number(value);
    else if (what === 'mem' && value) s.memory_used_pct = Number(value);
    else if (what === 'unit' && rest[0]) s.units.push({ unit: rest[0], active: rest[1] ?? '', enabled: rest[2] ?? '' });
    else if (what === 'release' && value) s.release = { id: value };
    else if (what === 'meta' && value && s.release) {
      try {
        const m = JSON.parse(value) as { commit?: string; by?: string; at?: string };
        Object.assign(s.release, { commit: m.commit, by: m.by, at: m.at });
      } catch {
        // an unreadable record leaves the id alone
      }
    } else if (what === 'maintenance') s.maintenance = value === 'on';
    else if (what === 'cert' && value) {
      const t = new Date(value);
      if (!Number.isNaN(t.getTime())) s.certificate_expires = t.toISOString();
    }
  }
  // units wanted at boot that do not run (stopped by hand, crashed, failed); a unit that
  // is only loaded (an earlier web set, stopped and disabled) is not counted
  s.down = s.units.filter((u) => (u.enabled.startsWith('enabled') && u.active !== 'active') || u.active === 'failed').map((u) => u.unit);
  return s;
}

export async function readStatus(session: SshSession, pillar: Pillar, env: string, hosts: { target: Target; roles: string[] }[]): Promise<HostStatus[]> {
  return mapLimit(hosts, 32, async ({ target, roles }) => {
    try {
      const conn = await session.connect(target);
      const r = await captureExec(conn, renderCommand({ line: statusScript(pillar, env, roles) }, { sudo: true }, { loginUser: conn.user }));
      if (r.code !== 0) return { host: target.name, reachable: true, roles, units: [], down: [], error: r.err.trim().split('\n').slice(-2).join(' ') || `exit ${r.code}` };
      return parseStatus(target.name, roles, r.out.toString('utf8'));
    } catch (e) {
      return { host: target.name, reachable: false, roles, units: [], down: [], error: errorMessage(e) };
    }
  });
}
