/**
 * The lab network: one bridge per instance with a private /24 (`.1` is this machine), one network namespace per
 * host joined to it by a veth pair. Nothing is forwarded or NATed: lab hosts reach this machine (and its apt
 * proxy) and each other, never other addresses.
 */
import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { OperationError } from '../errors.js';
import { run, tryRun } from './exec.js';

export function ipToInt(ip: string): number {
  const p = ip.split('.').map(Number);
  return (((p[0] ?? 0) << 24) | ((p[1] ?? 0) << 16) | ((p[2] ?? 0) << 8) | (p[3] ?? 0)) >>> 0;
}

/** IPv4 networks in use on this machine (interface addresses and routes), as [start, end] ranges. */
async function usedRanges(): Promise<Array<[number, number]>> {
  const ranges: Array<[number, number]> = [];
  const add = (cidr: string): void => {
    const m = /^(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?$/.exec(cidr);
    if (!m || !m[1]) return;
    const len = m[2] === undefined ? 32 : Number(m[2]);
    const size = 2 ** (32 - len);
    const start = Math.floor(ipToInt(m[1]) / size) * size;
    ranges.push([start, start + size - 1]);
  };
  const addrs = await run('ip', ['-4', '-o', 'addr', 'show']);
  for (const line of addrs.split('\n')) {
    const m = /\binet (\S+)/.exec(line);
    if (m?.[1]) add(m[1]);
  }
  const routes = await run('ip', ['-4', 'route', 'show', 'table', 'all']);
  const routeTypes = new Set(['unicast', 'local', 'broadcast', 'anycast', 'multicast', 'blackhole', 'unreachable', 'prohibit', 'throw']);
  for (const line of routes.split('\n')) {
    const words = line.trim().split(/\s+/);
    const dest = routeTypes.has(words[0] ?? '') ? words[1] : words[0];
    if (dest && dest !== 'default') add(dest);
  }
  return ranges;
}

/**
 * A free private /24 for an instance: the first candidate (derived from the instance id, so an instance keeps
 * the same subnet while it is free) that overlaps nothing on this machine. Returns the first three octets.
 */
export async function pickSubnet(instance: string, avoid: readonly string[] = []): Promise<string> {
  const used = await usedRanges();
  const h = createHash('sha256').update(`subnet:${instance}`).digest();
  const seed = ((h[0] ?? 0) << 8) | (h[1] ?? 0);
  // 10.200.0.0 – 10.249.255.0: 12800 candidate /24s
  const total = 50 * 256;
  for (let i = 0; i < total; i++) {
    const n = (seed + i) % total;
    const prefix = `10.${200 + Math.floor(n / 256)}.${n % 256}`;
    if (avoid.includes(prefix)) continue;
    const start = ipToInt(`${prefix}.0`);
    const end = start + 255;
    if (!used.some(([a, b]) => a <= end && start <= b)) return prefix;
  }
  throw new OperationError('no free private /24 found in 10.200.0.0/13 for the lab bridge');
}

/**
 * What on this machine uses addresses of `prefix`.0/24 (an interface address or a route), other than
 * `ownBridge`; undefined when the /24 is free.
 */
export async function subnetHolder(prefix: string, ownBridge: string): Promise<string | undefined> {
  const start = ipToInt(`${prefix}.0`);
  const overlaps = (cidr: string): boolean => {
    const m = /^(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?$/.exec(cidr);
    if (!m || !m[1]) return false;
    const size = 2 ** (32 - (m[2] === undefined ? 32 : Number(m[2])));
    const a = Math.floor(ipToInt(m[1]) / size) * size;
    return a <= start + 255 && start <= a + size - 1;
  };
  for (const line of (await run('ip', ['-4', '-o', 'addr', 'show'])).split('\n')) {
    const dev = line.split(/\s+/)[1] ?? '';
    const cidr = /\binet (\S+)/.exec(line)?.[1];
    if (cidr && dev !== ownBridge && overlaps(cidr)) return `address ${cidr} on ${dev}`;
  }
  for (const line of (await run('ip', ['-4', 'route', 'show'])).split('\n')) {
    const words = line.trim().split(/\s+/);
    const dev = words[words.indexOf('dev') + 1] ?? '';
    if (words[0] && words[0] !== 'default' && dev !== ownBridge && overlaps(words[0])) return `route ${words[0]} via ${dev}`;
  }
  return undefined;
}

export async function linkNames(): Promise<string[]> {
  const out = await run('ip', ['-o', 'link', 'show']);
  const names: string[] = [];
  for (const line of out.split('\n')) {
    const m = /^\d+:\s+([^:@\s]+)/.exec(line);
    if (m?.[1]) names.push(m[1]);
  }
  return names;
}

export async function netnsNames(): Promise<string[]> {
  const r = await tryRun('ip', ['netns', 'list']);
  if (r.code !== 0) return [];
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

function sysctlWrite(path: string, value: string): void {
  if (existsSync(path)) writeFileSync(path, value);
}

/** Creates (or repairs) the instance's bridge with `gateway/24`; packets arriving on it are never forwarded. */
export async function ensureBridge(bridge: string, gateway: string): Promise<void> {
  const links = await linkNames();
  if (!links.includes(bridge)) {
    await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
  }
  sysctlWrite(`/proc/sys/net/ipv6/conf/${bridge}/disable_ipv6`, '1');
  sysctlWrite(`/proc/sys/net/ipv4/conf/${bridge}/forwarding`, '0');
  const addrs = await run('ip', ['-4', '-o', 'addr', 'show', 'dev', bridge]);
  if (!addrs.includes(` ${gateway}/24 `)) {
    await run('ip', ['addr', 'replace', `${gateway}/24`, 'dev', bridge]);
  }
  await run('ip', ['link', 'set', bridge, 'up']);
}

export async function deleteLink(name: string): Promise<void> {
  await tryRun('ip', ['link', 'delete', name]);
}

export async function deleteNetns(name: string): Promise<void> {
  await tryRun('ip', ['netns', 'delete', name]);
}

/** A locally administered unicast MAC derived from `seed`. */
export function macFor(seed: string): string {
  const h = createHash('sha256').update(`mac:${seed}`).digest();
  const bytes = [0x02, h[0] ?? 0, h[1] ?? 0, h[2] ?? 0, h[3] ?? 0, h[4] ?? 0];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

export interface HostNet {
  netns: string;
  veth: string;
  address: string;
}

/** A namespace with `eth0` (peer of `veth` on the bridge), the host's address and a default route to the gateway. */
export async function createHostNetwork(h: HostNet, bridge: string, gateway: string): Promise<void> {
  await deleteNetns(h.netns);
  await deleteLink(h.veth);
  await run('ip', ['netns', 'add', h.netns]);
  // a MAC fixed by bridge and address: a host re-made at the same address is reachable at once, with no
  // wait for this machine's neighbour cache to give up the previous MAC
  const mac = macFor(`${bridge}/${h.address}`);
  await run('ip', ['link', 'add', h.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'address', mac, 'netns', h.netns]);
  await tryRun('ip', ['neigh', 'del', h.address, 'dev', bridge]);
  sysctlWrite(`/proc/sys/net/ipv6/conf/${h.veth}/disable_ipv6`, '1');
  await run('ip', ['link', 'set', h.veth, 'master', bridge, 'up']);
  await run('ip', ['-n', h.netns, 'link', 'set', 'lo', 'up']);
  await run('ip', ['-n', h.netns, 'addr', 'add', `${h.address}/24`, 'dev', 'eth0']);
  await run('ip', ['-n', h.netns, 'link', 'set', 'eth0', 'up']);
  await run('ip', ['-n', h.netns, 'route', 'add', 'default', 'via', gateway]);
}

export async function removeHostNetwork(h: { netns: string; veth: string }): Promise<void> {
  await deleteNetns(h.netns);
  await deleteLink(h.veth);
}
