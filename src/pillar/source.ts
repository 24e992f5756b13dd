/**
 * A parsed pillar file that remembers where every value came from, so that any error can
 * name `file:line:col` and the key path.
 */
import { lstatSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { relative } from 'node:path';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { UsageError } from '../errors.js';

export type KeyPath = readonly (string | number)[];

export interface Position {
  file: string;
  line: number;
  col: number;
}

export class PillarError extends UsageError {
  constructor(where: Position | string, keyPath: KeyPath | undefined, message: string, hint?: string) {
    const loc = typeof where === 'string' ? where : `${where.file}:${where.line}:${where.col}`;
    const key = keyPath && keyPath.length > 0 ? ` ${formatPath(keyPath)}:` : '';
    super(`${loc}:${key} ${message}`, hint);
    this.name = 'PillarError';
    this.where = loc;
  }
}

export function formatPath(path: KeyPath): string {
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : /^[A-Za-z0-9_-]+$/.test(p) ? (i === 0 ? p : `.${p}`) : `[${JSON.stringify(p)}]`))
    .join('');
}

export interface PillarSource {
  /** Path as shown to the user (relative to the repo root when inside it). */
  display: string;
  path: string;
  text: string;
  doc: Document.Parsed;
  lines: LineCounter;
  value: Record<string, unknown>;
}

export function displayPath(path: string, root: string): string {
  const rel = relative(root, path);
  return rel.startsWith('..') ? path : rel;
}

export function parsePillarText(text: string, path: string, display: string): PillarSource {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false, strict: true });
  const first = doc.errors[0];
  if (first) {
    const pos = lines.linePos(first.pos[0]);
    const msg = first.message.split('\n')[0]?.replace(/ at line \d+, column \d+.*$/, '') ?? 'invalid YAML';
    const keyPath = pathAtOffset(doc, first.pos[0]);
    throw new PillarError({ file: display, line: pos.line, col: pos.col }, keyPath, yamlMessage(first.code, msg));
  }
  const proto = findKey(doc.contents, '__proto__');
  if (proto) {
    const pos = lines.linePos(proto.range?.[0] ?? 0);
    throw new PillarError({ file: display, line: pos.line, col: pos.col }, undefined, "the key '__proto__' is not allowed in a pillar file");
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    throw new PillarError({ file: display, line: 1, col: 1 }, undefined, `YAML: ${(e as Error).message.split('\n')[0] ?? 'cannot read'} (aliases expand to too much)`);
  }
  if (value !== null && value !== undefined && (typeof value !== 'object' || Array.isArray(value))) {
    throw new PillarError({ file: display, line: 1, col: 1 }, undefined, 'a pillar file must be a mapping of keys to values');
  }
  return { display, path, text, doc, lines, value: (value ?? {}) as Record<string, unknown> };
}

function yamlMessage(code: string, msg: string): string {
  if (code === 'DUPLICATE_KEY') return 'duplicate key (each key may appear once in a mapping)';
  return `YAML syntax: ${msg.charAt(0).toLowerCase()}${msg.slice(1)}`;
}

/** Pillar files are small (an encrypted 1 MiB value fits): a bigger one is a mistake, or an attack on the parser. */
export const MAX_PILLAR_BYTES = 4 * 1024 * 1024;

/**
 * The text of a pillar file, or `undefined` when it does not exist: a folder, a file over 1 MiB or a
 * symbolic link that leads out of the repo is refused (exit 2, naming it).
 */
export function readPillarText(path: string, root: string): string | undefined {
  const display = displayPath(path, root);
  let st;
  try {
    st = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UsageError(`cannot read ${display}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  if (st.isSymbolicLink()) {
    let real: string;
    try {
      real = realpathSync(path);
    } catch {
      throw new UsageError(`${display} is a symbolic link to nothing`);
    }
    const top = realpathSync(root);
    if (real !== top && !real.startsWith(`${top}/`)) throw new UsageError(`${display} is a symbolic link out of the repo (to ${real}); ops reads pillar files from the repo only`);
    st = statSync(path);
  }
  if (st.isDirectory()) throw new UsageError(`${display} is a folder, not a pillar file`);
  if (!st.isFile()) throw new UsageError(`${display} is not a regular file`);
  if (st.size > MAX_PILLAR_BYTES) throw new UsageError(`${display} is ${Math.round(st.size / 1024)} KiB: a pillar file may hold at most 4 MiB`);
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${display}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

export function loadPillarFile(path: string, root: string): PillarSource {
  const text = readPillarText(path, root);
  if (text === undefined) throw new UsageError(`cannot read ${displayPath(path, root)}: it does not exist`);
  refuseSaltEra(text, displayPath(path, root));
  return parsePillarText(text, path, displayPath(path, root));
}

/** Top-level keys of the Caktus template's Salt pillar that ops's own vocabulary does not have. */
const SALT_ERA_KEY = /^(project_name|environment|github_deploy_key|python_version|margarita_version|less_version|postgres_version|requirements_file|ssl_key|ssl_cert)\s*:/;

/**
 * A pillar file in the template's Salt vocabulary (its keys, its Jinja) is one line and exit 2,
 * pointing at the one way to convert it — not refused key by key.
 */
function refuseSaltEra(text: string, display: string): void {
  const lines = text.split('\n');
  for (const [i, l] of lines.entries()) {
    const key = SALT_ERA_KEY.exec(l)?.[1];
    const jinja = /^\s*\{%/.test(l);
    if (!key && !jinja) continue;
    const what = key ? `the template's \`${key}:\`` : 'Jinja';
    throw new PillarError(`${display}:${i + 1}:1`, undefined, `a Salt-era pillar (${what}): ops reads pillar files in its own vocabulary`, 'convert the template\'s conf/ folder once with `ops import salt conf --to .` (README, "Coming from the Caktus template / Salt")');
  }
}

/** The first key node named `name`, at any depth. */
function findKey(node: unknown, name: string): Node | undefined {
  if (isMap(node)) {
    for (const it of node.items) {
      if (isScalar(it.key) && String(it.key.value) === name) return it.key as Node;
      const inner = findKey(it.value, name);
      if (inner) return inner;
    }
  } else if (isSeq(node)) {
    for (const it of node.items) {
      const inner = findKey(it, name);
      if (inner) return inner;
    }
  }
  return undefined;
}

/** Position of the node at `path` (or the deepest existing ancestor); `depth` says how deep it got. */
export function locate(src: PillarSource, path: KeyPath, preferKey = false): { pos: Position; depth: number } {
  let node: unknown = src.doc.contents;
  let keyNode: Node | undefined;
  let depth = 0;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && String(it.key.value) === String(seg));
      if (!pair) break;
      keyNode = pair.key as Node;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number' && node.items[seg] !== undefined) {
      keyNode = undefined;
      node = node.items[seg];
    } else break;
    depth++;
  }
  const target = (preferKey && keyNode) || (node as Node | null) || keyNode;
  const offset = target && 'range' in target && target.range ? target.range[0] : 0;
  const lp = src.lines.linePos(offset);
  return { pos: { file: src.display, line: lp.line, col: lp.col }, depth };
}

/** Key path of the innermost map entry containing `offset` (for syntax errors). */
function pathAtOffset(doc: Document.Parsed, offset: number): KeyPath {
  const path: (string | number)[] = [];
  let node: unknown = doc.contents;
  for (;;) {
    if (isMap(node)) {
      const pair = node.items.find((it) => {
        const k = it.key as Node | null;
        const v = it.value as Node | null;
        const start = k?.range?.[0] ?? v?.range?.[0] ?? -1;
        const end = v?.range?.[2] ?? k?.range?.[2] ?? -1;
        return start <= offset && offset <= end;
      });
      if (!pair || !isScalar(pair.key)) return path;
      path.push(String(pair.key.value));
      node = pair.value;
    } else if (isSeq(node)) {
      const i = node.items.findIndex((it) => {
        const n = it as Node | null;
        const r = n?.range;
        return r != null && r[0] <= offset && offset <= r[2];
      });
      if (i < 0) return path;
      path.push(i);
      node = node.items[i];
    } else return path;
  }
}
