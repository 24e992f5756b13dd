/**
 * Where an environment's inventory and keys are recorded: pillar/<env>.yml and pillar/keys/
 * (committed, reviewed like code), or — for lab environments — the generated overlay in .ops/.
 * Edits keep every comment.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, isSeq, parseDocument, type YAMLMap } from 'yaml';
import { UsageError } from '../errors.js';
import { writeFileAtomic } from '../fsutil.js';
import { findPillarFile } from '../pillar/files.js';
import type { LoadedPillar } from '../pillar/load.js';
import type { Repo } from '../repo.js';

export function isLab(pillar: LoadedPillar): boolean {
  return pillar.data.lab === true;
}

export function inventoryFile(repo: Repo, pillar: LoadedPillar): string {
  if (isLab(pillar)) return findPillarFile(repo.overlayDir, pillar.env) ?? join(repo.overlayDir, `${pillar.env}.yml`);
  return pillar.envFile;
}

export function keysDir(repo: Repo, pillar: LoadedPillar): string {
  return isLab(pillar) ? join(repo.overlayDir, 'keys') : join(repo.pillarDir, 'keys');
}

export interface ServerRecord {
  name: string;
  address: string;
  port: number;
  roles: string[];
}

/** Adds or updates one server (matched by name, else by address), adding roles; returns its name. */
export function recordServer(file: string, rec: ServerRecord): string {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new UsageError(`${file}: cannot edit, not valid YAML (${doc.errors[0]?.message.split('\n')[0]})`);
  if (doc.contents === null) doc.contents = doc.createNode({}) as unknown as typeof doc.contents;
  let servers = doc.get('servers', true);
  if (!isMap(servers)) {
    doc.set('servers', doc.createNode({}));
    servers = doc.get('servers', true);
  }
  const map = servers as YAMLMap;
  let name = rec.name;
  const byAddress = map.items.find((it) => isMap(it.value) && (it.value as YAMLMap).get('address') === rec.address);
  if (!map.has(name) && byAddress) name = String((byAddress.key as { value: unknown }).value ?? byAddress.key);
  const existing = map.get(name, true);
  if (!isMap(existing)) {
    map.set(name, doc.createNode({ address: rec.address, ...(rec.port !== 22 ? { port: rec.port } : {}), roles: rec.roles }));
  } else {
    existing.set('address', rec.address);
    if (rec.port !== 22) existing.set('port', rec.port);
    const roles = existing.get('roles', true);
    if (isSeq(roles)) {
      const have = roles.items.map((i) => String((i as { value: unknown }).value ?? i));
      for (const r of rec.roles) if (!have.includes(r)) roles.add(doc.createNode(r));
    } else existing.set('roles', doc.createNode(rec.roles));
  }
  writeFileAtomic(file, doc.toString({ lineWidth: 0 }));
  return name;
}
