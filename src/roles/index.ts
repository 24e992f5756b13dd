/**
 * One host's states: base, then each of its roles in a fixed order, then the firewall its roles
 * asked for. States with the same id (a package two roles need) are kept once.
 */
import { UsageError } from '../errors.js';
import type { Handler, State } from '../states/types.js';
import { base, firewall } from './base.js';
import type { FirewallRule, RoleBuilder, RoleContext } from './context.js';
import { balancer } from './balancer.js';
import { cache } from './cache.js';
import { db } from './db.js';
import { master } from './master.js';
import { queue } from './queue.js';
import { web } from './web.js';
import { worker } from './worker.js';

/** Built-in roles in the order their states run on a host. */
export const ROLE_BUILDERS: Record<string, RoleBuilder> = {
  master,
  db,
  cache,
  queue,
  web,
  worker,
  balancer,
};

export const ROLE_ORDER = ['master', 'db', 'cache', 'queue', 'web', 'worker', 'balancer'];

export interface Rendered {
  states: State[];
  handlers: Handler[];
}

export function renderHost(ctx: RoleContext, extraRoles: Record<string, RoleBuilder> = {}): Rendered {
  const parts = [base(ctx)];
  const rules: FirewallRule[] = [];
  const ordered = [...ctx.host.roles].sort((a, b) => rank(a) - rank(b));
  for (const role of ordered) {
    const builder = ROLE_BUILDERS[role] ?? extraRoles[role];
    if (!builder) throw new UsageError(`role '${role}' of ${ctx.host.name} has no states (is it declared under roles: in pillar/project.yml?)`);
    const p = builder(ctx);
    parts.push(p);
    rules.push(...(p.firewall ?? []));
  }
  parts.push(firewall(ctx, rules));
  const states = new Map<string, State>();
  const handlers = new Map<string, Handler>();
  for (const p of parts) {
    for (const s of p.states) if (!states.has(s.id)) states.set(s.id, s);
    for (const h of p.handlers ?? []) if (!handlers.has(h.id)) handlers.set(h.id, h);
  }
  return { states: [...states.values()], handlers: [...handlers.values()] };
}

function rank(role: string): number {
  const i = ROLE_ORDER.indexOf(role);
  return i < 0 ? ROLE_ORDER.length : i;
}
