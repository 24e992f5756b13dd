/** Minimal ustar archives (regular files only) for shipping a repo snapshot or the bundle in one stream. */
export interface TarEntry {
  path: string;
  data: Buffer;
  mode: number;
}

function field(buf: Buffer, offset: number, length: number, value: string): void {
  buf.write(value, offset, length, 'utf8');
}

function octalField(buf: Buffer, offset: number, length: number, value: number): void {
  field(buf, offset, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
}

function splitName(path: string): [string, string] {
  if (Buffer.byteLength(path) <= 100) return ['', path];
  const i = path.lastIndexOf('/', 155);
  if (i <= 0 || Buffer.byteLength(path.slice(i + 1)) > 100) throw new Error(`path too long for tar: ${path}`);
  return [path.slice(0, i), path.slice(i + 1)];
}

export function pack(entries: readonly TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const h = Buffer.alloc(512);
    const [prefix, name] = splitName(e.path);
    field(h, 0, 100, name);
    octalField(h, 100, 8, e.mode & 0o7777);
    octalField(h, 108, 8, 0);
    octalField(h, 116, 8, 0);
    octalField(h, 124, 12, e.data.length);
    octalField(h, 136, 12, 0);
    h.fill(' ', 148, 156);
    field(h, 156, 1, '0');
    field(h, 257, 6, 'ustar\0');
    field(h, 263, 2, '00');
    field(h, 345, 155, prefix);
    let sum = 0;
    for (const b of h) sum += b;
    field(h, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
    blocks.push(h, e.data, Buffer.alloc((512 - (e.data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

export function unpack(archive: Buffer): TarEntry[] {
  const out: TarEntry[] = [];
  let off = 0;
  while (off + 512 <= archive.length) {
    const h = archive.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const str = (o: number, l: number) => h.subarray(o, o + l).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(str(124, 12).trim() || '0', 8);
    const prefix = str(345, 155);
    const name = str(0, 100);
    const type = str(156, 1) || '0';
    const data = archive.subarray(off + 512, off + 512 + size);
    if (type === '0') {
      const path = prefix ? `${prefix}/${name}` : name;
      if (path.startsWith('/') || path.split('/').includes('..')) throw new Error(`unsafe path in archive: ${path}`);
      out.push({ path, data: Buffer.from(data), mode: parseInt(str(100, 8).trim() || '644', 8) });
    }
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}
