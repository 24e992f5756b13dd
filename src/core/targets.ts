/** Which hosts a command talks to: the environment's servers, filtered by role or host. */
import { userInfo } from 'node:os';
import { UsageError } from '../errors.js';
import type { LoadedPillar } from '../pillar/load.js';
import { BUILTIN_ROLES, ROLE_ALIASES, type Server } from '../pillar/schema.js';
import type { Target } from '../ssh/target.js';

export interface Selection {
  role?: string;
  host?: string;
  /** -u: connect as this user (else OPS_USER, else the server's `user`, else the local user). */
  user?: string;
}

export function localUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'root';
  }
}

function toTarget(pillar: LoadedPillar, name: string, s: Server, sel: Selection, seen: Set<string>): Target {
  const user = sel.user ?? process.env.OPS_USER ?? s.user ?? localUser();
  const target: Target = { name, address: s.address, port: s.port, user };
  if (s.via && !seen.has(name)) {
    const servers = pillar.data.servers;
    const viaName = s.via === 'master' ? Object.keys(servers).find((n) => servers[n]?.roles.includes('master')) : s.via;
    const via = viaName ? servers[viaName] : undefined;
    if (!viaName || !via) throw new UsageError(`servers.${name}.via: no ${s.via === 'master' ? 'server with the master role' : `server named '${s.via}'`} in environment '${pillar.env}'`);
    if (viaName !== name) target.via = toTarget(pillar, viaName, via, { ...sel }, new Set([...seen, name]));
  }
  return target;
}

export function selectTargets(pillar: LoadedPillar, sel: Selection): Target[] {
  const servers = Object.entries(pillar.data.servers);
  if (servers.length === 0) {
    throw new UsageError(
      `environment '${pillar.env}' has no servers`,
      pillar.data.lab || pillar.env === 'lab'
        ? `start lab hosts with \`ops lab up --env ${pillar.env}\``
        : `add servers with \`ops setup-minion ${pillar.env} ROLES -H HOST\` (or lab hosts with \`ops lab up --env ${pillar.env}\`)`,
    );
  }
  let chosen = servers;
  if (sel.role !== undefined) {
    const role = ROLE_ALIASES[sel.role] ?? sel.role;
    const known = new Set<string>([...BUILTIN_ROLES, ...Object.keys(pillar.data.roles)]);
    if (!known.has(role)) throw new UsageError(`unknown role '${sel.role}' (valid: ${[...known].join(', ')})`);
    chosen = chosen.filter(([, s]) => s.roles.includes(role));
    if (chosen.length === 0) {
      const present = [...new Set(servers.flatMap(([, s]) => s.roles))];
      throw new UsageError(`no host of environment '${pillar.env}' has the role '${role}'`, `roles in use: ${present.join(', ') || 'none'}`);
    }
  }
  if (sel.host !== undefined) {
    const h = sel.host;
    chosen = chosen.filter(([name, s]) => name === h || s.address === h || s.private_address === h);
    if (chosen.length === 0) {
      throw new UsageError(`unknown host '${h}' in environment '${pillar.env}'${sel.role ? ` with role '${sel.role}'` : ''}`, `hosts: ${servers.map(([n, s]) => `${n} (${s.address})`).join(', ')}`);
    }
  }
  return chosen.map(([name, s]) => toTarget(pillar, name, s, sel, new Set()));
}

/** The environment's hosts with their roles (for tasks and hooks), every server of the inventory. */
export function hostsWithRoles(pillar: LoadedPillar, sel: Pick<Selection, 'user'> = {}): { target: Target; roles: string[] }[] {
  if (Object.keys(pillar.data.servers).length === 0) return [];
  return selectTargets(pillar, { user: sel.user }).map((t) => ({ target: t, roles: pillar.data.servers[t.name]?.roles ?? [] }));
}
