/** Facts a role needs before it can render (nothing secret): distro and existing PostgreSQL clusters. */
import type { HostFacts } from '../roles/context.js';
import type { HostIO } from '../states/executor.js';
import { kv } from '../states/facts-format.js';

const SCRIPT = `. /etc/os-release 2>/dev/null; printf 'osId=%s\\nosVersion=%s\\n' "$ID" "$VERSION_ID"; printf 'pg=%s\\n' "$(ls /etc/postgresql 2>/dev/null | tr '\\n' ',')"`;

export async function readHostFacts(io: HostIO): Promise<HostFacts> {
  let out = '';
  await io.exec(`sh -c '${SCRIPT.replace(/'/g, `'\\''`)}'`, { onStdout: (b) => (out += b.toString()) });
  const f = kv(out);
  return { osId: f.osId ?? 'unknown', osVersion: f.osVersion ?? '', postgresClusters: (f.pg ?? '').split(',').filter(Boolean) };
}
