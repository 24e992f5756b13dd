/** What a role sees when it renders one host's states: the decrypted pillar, the inventory, facts. */
import type { Pillar } from '../pillar/schema.js';
import type { Handler, State } from '../states/types.js';
import type { Templates } from './templates.js';

export interface Host {
  name: string;
  address: string;
  /** The address other servers use to reach this one. */
  privateAddress: string;
  port: number;
  roles: string[];
}

/** Read once per host before rendering (one round trip, with nothing secret). */
export interface HostFacts {
  osId: string;
  osVersion: string;
  /** PRETTY_NAME of /etc/os-release (for messages) */
  osPretty?: string;
  /** The `main` PostgreSQL clusters that exist (pg_lsclusters), with their ports. */
  postgresClusters: PostgresCluster[];
}

export interface PostgresCluster {
  version: string;
  port: number;
}

export interface RoleContext {
  env: string;
  project: string;
  pillar: Pillar;
  host: Host;
  hosts: readonly Host[];
  facts: HostFacts;
  tpl: Templates;
}

export interface FirewallRule {
  port: number | string;
  proto: 'tcp' | 'udp';
  /** `any`, or the hosts allowed (their private addresses). */
  from: 'any' | Host[];
  comment: string;
}

export interface RoleParts {
  states: State[];
  handlers?: Handler[];
  firewall?: FirewallRule[];
  /** Environment variables this role provides to the app (service addresses). */
}

export type RoleBuilder = (ctx: RoleContext) => RoleParts;

/** The environment's servers as hosts (private address for host-to-host traffic). */
export function inventoryHosts(pillar: Pillar): Host[] {
  return Object.entries(pillar.servers).map(([name, s]) => ({ name, address: s.address, privateAddress: s.private_address ?? s.address, port: s.port, roles: s.roles }));
}

export function hasRole(host: Host, role: string): boolean {
  return host.roles.includes(role);
}

export function hostsWith(ctx: RoleContext, role: string): Host[] {
  return ctx.hosts.filter((h) => h.roles.includes(role));
}

/** App hosts: those running the app's code (web and worker). */
export function appHosts(ctx: RoleContext): Host[] {
  return ctx.hosts.filter((h) => h.roles.includes('web') || h.roles.includes('worker'));
}

export function text(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}
