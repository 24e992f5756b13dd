/**
 * Edits pillar YAML text in place: only the bytes of the values that change are rewritten,
 * so every comment and the formatting of untouched lines survive. Each edit is verified by
 * parsing the result again.
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type YAMLMap } from 'yaml';
import type { KeyPath } from './source.js';

export class EditError extends Error {
  constructor(
    message: string,
    /** where in the file, when the problem is a node of it */
    readonly pos?: { line: number; col: number },
  ) {
    super(message);
  }
}

function parse(text: string): { doc: Document.Parsed; lines: LineCounter } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length > 0) throw new EditError(`cannot edit: the file is not valid YAML (${doc.errors[0]?.message.split('\n')[0]})`);
  return { doc, lines };
}

function keyText(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key) ? key : JSON.stringify(key);
}

/** A value as YAML text to put after `key:`. Multi-line values become `|-` blocks indented by `indent`. */
function valueText(value: string, indent: number): string {
  const pad = ' '.repeat(indent);
  if (value.includes('\n') || value.startsWith('-----BEGIN')) {
    const body = value.replace(/\n+$/, '').split('\n').map((l) => (l === '' ? '' : pad + l)).join('\n');
    return `|-\n${body}`;
  }
  return JSON.stringify(value);
}

function pairIn(map: YAMLMap, key: string | number) {
  return map.items.find((it) => isPair(it) && isScalar(it.key) && String(it.key.value) === String(key));
}

function column(lines: LineCounter, offset: number): number {
  return lines.linePos(offset).col - 1;
}

interface Splice {
  start: number;
  end: number;
  text: string;
}

function applySplices(text: string, splices: Splice[]): string {
  let out = text;
  for (const s of [...splices].sort((a, b) => b.start - a.start)) {
    out = out.slice(0, s.start) + s.text + out.slice(s.end);
  }
  return out;
}

/** Replaces the value at `path` (which must exist) with `value`. */
function replaceSplice(source: string, doc: Document.Parsed, lines: LineCounter, path: KeyPath, value: string): Splice {
  const parentPath = path.slice(0, -1);
  const last = path[path.length - 1];
  const parent = parentPath.length === 0 ? doc.contents : doc.getIn(parentPath, true);
  if (!isMap(parent) || last === undefined) throw new EditError(`cannot edit ${path.join('.')}: not inside a mapping`);
  const pair = pairIn(parent, last);
  if (!pair) throw new EditError(`cannot edit ${path.join('.')}: no such key`);
  const keyNode = pair.key as Node;
  const valueNode = pair.value as Node | null;
  const indent = column(lines, keyNode.range?.[0] ?? 0) + 2;
  const range = valueNode?.range;
  if (!range) throw new EditError(`cannot edit ${path.join('.')}: value has no position`);
  const text = valueText(value, indent);
  if (!text.startsWith('|')) return { start: range[0], end: range[1], text };
  // A block needs its own lines: a comment that trailed the old value moves onto the `|-` line.
  const rest = source.slice(range[1], range[2]);
  const comment = /^[ \t]*(#[^\n]*)/.exec(rest)?.[1];
  if (!comment) return { start: range[0], end: range[1], text };
  const [header, ...body] = text.split('\n');
  return { start: range[0], end: range[2], text: [`${header} ${comment}`, ...body].join('\n') };
}

/**
 * Sets `map.key = value` for each entry, where `map` is a top-level mapping key (e.g. `secrets`),
 * replacing existing values and appending new keys at the end of the mapping (creating it if needed).
 */
export function setEntries(text: string, mapKey: string, entries: ReadonlyArray<readonly [string, string]>): string {
  const { doc, lines } = parse(text);
  const root = doc.contents;
  if (root !== null && !isMap(root)) throw new EditError('cannot edit: the file is not a mapping');
  const splices: Splice[] = [];
  const mapPair = root ? pairIn(root, mapKey) : undefined;
  const map = mapPair?.value;
  if (mapPair && map !== null && map !== undefined && !(isScalar(map) && map.value === null)) {
    // Only a mapping of values is edited: anything else is the operator's to fix, never overwritten.
    const node = map as Node;
    const at = node.range ? lines.linePos(node.range[0]) : undefined;
    if (!isMap(map)) throw new EditError(`${mapKey} is ${isSeq(map) ? 'a list' : isScalar(map) ? `the value ${JSON.stringify(String(map.value))}` : 'not a mapping'}, not a mapping of names to values; fix it by hand, nothing was written`, at);
    for (const it of map.items) {
      if (!isScalar(it.value) && it.value !== null) {
        const v = it.value as Node;
        throw new EditError(`${mapKey}.${String((it.key as { value: unknown }).value)} is not a single value; fix it by hand, nothing was written`, v.range ? lines.linePos(v.range[0]) : at);
      }
    }
  }
  const toAdd: [string, string][] = [];
  for (const [k, v] of entries) {
    if (isMap(map) && pairIn(map, k)) splices.push(fixBlockEnd(text, replaceSplice(text, doc, lines, [mapKey, k], v)));
    else toAdd.push([k, v]);
  }
  if (toAdd.length > 0) {
    if (isMap(map) && map.items.length > 0 && !map.flow) {
      const first = map.items[0]?.key as Node;
      const indent = column(lines, first.range?.[0] ?? 0);
      const end = map.range?.[1] ?? text.length;
      const atLineStart = end === 0 || text[end - 1] === '\n';
      const block = toAdd.map(([k, v]) => `${' '.repeat(indent)}${keyText(k)}: ${valueText(v, indent + 2)}\n`).join('');
      splices.push({ start: end, end, text: (atLineStart ? '' : '\n') + block });
    } else if (mapPair) {
      // `secrets:` with nothing, or a flow mapping like `{}`: rewrite its value as a block mapping.
      const existing = isMap(map) ? map.items.map((it) => [String((it.key as { value: unknown }).value), String((it.value as { value: unknown }).value)] as [string, string]) : [];
      const all = [...existing, ...toAdd];
      const valueNode = mapPair.value as Node | null;
      const keyNode = mapPair.key as Node;
      const start = valueNode?.range?.[0] ?? keyNode.range?.[2] ?? text.length;
      const end = valueNode?.range?.[1] ?? start;
      const trimmedStart = text.slice(0, start).endsWith(' ') ? start - 1 : start;
      const block = all.map(([k, v]) => `\n  ${keyText(k)}: ${valueText(v, 4)}`).join('');
      splices.push({ start: trimmedStart, end, text: block });
    } else {
      const prefix = text.length > 0 && !text.endsWith('\n') ? '\n' : '';
      const block = toAdd.map(([k, v]) => `  ${keyText(k)}: ${valueText(v, 4)}\n`).join('');
      splices.push({ start: text.length, end: text.length, text: `${prefix}${mapKey}:\n${block}` });
    }
  }
  const out = applySplices(text, splices);
  verify(out, entries.map(([k, v]) => [[mapKey, k], v] as const));
  return out;
}

/** Replaces existing string values at the given paths (e.g. re-encrypted blocks). */
export function replaceValues(text: string, replacements: ReadonlyArray<{ path: KeyPath; value: string }>): string {
  const { doc, lines } = parse(text);
  const splices = replacements.map((r) => fixBlockEnd(text, replaceSplice(text, doc, lines, r.path, r.value)));
  const out = applySplices(text, splices);
  verify(out, replacements.map((r) => [r.path, r.value] as const));
  return out;
}

/** A block scalar's range swallows its final newline; keep one after the replacement. */
function fixBlockEnd(text: string, s: Splice): Splice {
  const replaced = text.slice(s.start, s.end);
  if (replaced.endsWith('\n') && !s.text.endsWith('\n')) return { ...s, text: `${s.text}\n` };
  return s;
}

function verify(out: string, expected: ReadonlyArray<readonly [KeyPath, string]>): void {
  const { doc } = parse(out);
  for (const [path, value] of expected) {
    const got: unknown = doc.getIn(path);
    if (got !== value.replace(/\n+$/, '') && got !== value) {
      throw new EditError(`editing ${path.join('.')} did not produce the intended value; the file was left unchanged`);
    }
  }
}
