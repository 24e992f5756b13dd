/**
 * What the rest of ops reads about lab hosts, in the repo's git-ignored state folder:
 *   .ops/pillar/<env>.yml   `lab: true` and `servers:` (address, port, user, roles) of the env's lab hosts
 *   .ops/known_hosts        pinned ed25519 host keys of lab hosts, OpenSSH format
 * Edits keep everything else in those files (other keys, comments, each server's roles).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, isScalar, parseDocument, YAMLMap } from 'yaml';
import type { Document } from 'yaml';
import { OperationError } from '../errors.js';
import type { Repo } from '../repo.js';
import { ensureStateDir } from '../repo.js';

export interface InventoryHost {
  name: string;
  address: string;
}

export function envPillarPath(repo: Repo, env: string): string {
  return join(repo.overlayDir, `${env}.yml`);
}

export function knownHostsPath(repo: Repo): string {
  return join(repo.stateDir, 'known_hosts');
}

function writeIfChanged(path: string, text: string, mode: number): boolean {
  let have: string | undefined;
  try {
    have = readFileSync(path, 'utf8');
  } catch {
    have = undefined;
  }
  if (have === text) return false;
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, path);
  return true;
}

function labServerName(env: string): RegExp {
  return new RegExp(`^${env.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-\\d+$`);
}

function loadDoc(path: string): Document | undefined {
  if (!existsSync(path)) return undefined;
  const doc = parseDocument(readFileSync(path, 'utf8'));
  if (doc.errors.length > 0) {
    throw new OperationError(`cannot update ${path}: ${doc.errors[0]?.message ?? 'invalid YAML'}`, 'fix or delete that file');
  }
  return doc;
}

function serversMap(doc: Document): YAMLMap | undefined {
  const s = doc.get('servers', true);
  return isMap(s) ? s : undefined;
}

function keyName(k: unknown): string {
  return isScalar(k) ? String(k.value) : String(k);
}

/** Sets the env's lab servers (adds, updates addresses, removes other `<env>-N`); returns whether the file changed. */
export function writeEnvPillar(repo: Repo, env: string, hosts: readonly InventoryHost[]): boolean {
  ensureStateDir(repo);
  mkdirSync(repo.overlayDir, { recursive: true, mode: 0o700 });
  const path = envPillarPath(repo, env);
  const doc = loadDoc(path) ?? parseDocument('{}');
  if (!isMap(doc.contents)) doc.contents = doc.createNode({}) as unknown as typeof doc.contents;
  const top = doc.contents as unknown as YAMLMap;
  if (top.flow) top.flow = false;
  if (!doc.has('lab')) top.items.unshift(doc.createPair('lab', true));
  else doc.set('lab', true);

  let servers = serversMap(doc);
  if (!servers) {
    servers = new YAMLMap();
    doc.set('servers', servers);
  }
  servers.flow = false;
  const wanted = new Set(hosts.map((h) => h.name));
  const pattern = labServerName(env);
  for (const pair of [...servers.items]) {
    const name = keyName(pair.key);
    if (pattern.test(name) && !wanted.has(name)) servers.delete(pair.key);
  }
  for (const h of hosts) {
    const cur = servers.get(h.name, true);
    if (isMap(cur)) {
      cur.set('address', h.address);
      cur.set('port', 22);
      cur.set('user', 'root');
      if (!cur.has('roles')) cur.set('roles', doc.createNode([], { flow: true }));
    } else {
      const node = doc.createNode({ address: h.address, port: 22, user: 'root', roles: [] }, { flow: true });
      servers.set(h.name, node);
    }
  }
  return writeIfChanged(path, doc.toString({ lineWidth: 0 }), 0o600);
}

/** Lab servers (`<env>-N`) listed in the env's overlay file. */
export function readEnvPillarHosts(repo: Repo, env: string): InventoryHost[] {
  let doc: Document | undefined;
  try {
    doc = loadDoc(envPillarPath(repo, env));
  } catch {
    return [];
  }
  const servers = doc ? serversMap(doc) : undefined;
  if (!servers) return [];
  const pattern = labServerName(env);
  const out: InventoryHost[] = [];
  for (const pair of servers.items) {
    const name = keyName(pair.key);
    const v = pair.value;
    if (!pattern.test(name) || !isMap(v)) continue;
    const address = v.get('address');
    if (typeof address === 'string') out.push({ name, address });
  }
  return out;
}

/** Envs whose overlay file says `lab: true`. */
export function labEnvsInOverlay(repo: Repo): string[] {
  let files: string[] = [];
  try {
    files = readdirSync(repo.overlayDir).filter((f) => f.endsWith('.yml'));
  } catch {
    return [];
  }
  const envs: string[] = [];
  for (const f of files) {
    try {
      const doc = loadDoc(join(repo.overlayDir, f));
      if (doc && doc.get('lab') === true) envs.push(f.slice(0, -4));
    } catch {
      // not ours to judge
    }
  }
  return envs;
}

/** Removes the env's lab servers; drops `lab`/`servers` when nothing is left and the file when it is empty. */
export function removeEnvPillar(repo: Repo, env: string): void {
  const path = envPillarPath(repo, env);
  let doc: Document | undefined;
  try {
    doc = loadDoc(path);
  } catch {
    return;
  }
  if (!doc || doc.get('lab') !== true) return;
  const servers = serversMap(doc);
  const pattern = labServerName(env);
  if (servers) {
    for (const pair of [...servers.items]) {
      if (pattern.test(keyName(pair.key))) servers.delete(pair.key);
    }
    if (servers.items.length === 0) doc.delete('servers');
  }
  if (!serversMap(doc)) doc.delete('lab');
  const top = doc.contents;
  if (!top || (isMap(top) && top.items.length === 0)) {
    if (!doc.commentBefore && !doc.comment) {
      unlinkSync(path);
      return;
    }
  }
  writeIfChanged(path, doc.toString({ lineWidth: 0 }), 0o600);
}

function lineHosts(line: string): string[] {
  const words = line.trim().split(/\s+/);
  const field = words[0]?.startsWith('@') ? words[1] : words[0];
  return (field ?? '').split(',');
}

/**
 * Replaces the known_hosts lines of `drop` and of the hosts in `add` (port 22: bare address) with the keys
 * in `add`; returns whether the file changed.
 */
export function updateKnownHosts(repo: Repo, drop: readonly string[], add: ReadonlyArray<{ address: string; key: string }>): boolean {
  ensureStateDir(repo);
  const path = knownHostsPath(repo);
  let lines: string[] = [];
  try {
    lines = readFileSync(path, 'utf8').split('\n');
  } catch {
    lines = [];
  }
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const dropSet = new Set(drop);
  const byAddress = new Map(add.map((a) => [a.address, `${a.address} ${a.key}`]));
  const placed = new Set<string>();
  const next: string[] = [];
  for (const l of lines) {
    const hosts = !l.trim() || l.trim().startsWith('#') ? [] : lineHosts(l);
    const replaced = hosts.find((h) => byAddress.has(h));
    if (replaced !== undefined) {
      // a line for an address we pin: the first one becomes the new key, further ones go
      if (!placed.has(replaced)) {
        next.push(byAddress.get(replaced) ?? l);
        placed.add(replaced);
      }
      continue;
    }
    if (hosts.some((h) => dropSet.has(h))) continue;
    next.push(l);
  }
  for (const [address, line] of byAddress) if (!placed.has(address)) next.push(line);
  if (next.length === 0) {
    if (!existsSync(path)) return false;
    unlinkSync(path);
    return true;
  }
  return writeIfChanged(path, `${next.join('\n')}\n`, 0o644);
}
