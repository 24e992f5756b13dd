/** Facts a role needs before it can render (nothing secret): distro and existing PostgreSQL clusters. */
import { OperationError } from '../errors.js';
import type { HostFacts, PostgresCluster } from '../roles/context.js';
import type { HostIO } from '../states/executor.js';
import { kv } from '../states/facts-format.js';
import { shellLine } from '../ssh/quote.js';

const SCRIPT = `[ -r /etc/os-release ] && . /etc/os-release; printf 'osId=%s\\nosVersion=%s\\nosPretty=%s\\n' "$ID" "$VERSION_ID" "$PRETTY_NAME"; printf 'pg=%s\\n' "$(pg_lsclusters -h 2>/dev/null | awk '$2 == "main" { printf "%s:%s,", $1, $3 }')"`;

export async function readHostFacts(io: HostIO): Promise<HostFacts> {
  let out = '';
  const r = await io.exec(shellLine(['sh', '-c', SCRIPT]), { onStdout: (b) => (out += b.toString()) });
  const f = kv(out);
  // a command that failed is not a host of an unknown system
  if (r.code !== 0 || f.osId === undefined) throw new OperationError(`cannot read the host's facts (/etc/os-release, PostgreSQL clusters): exit ${r.code ?? r.signal ?? '?'}`);
  return { osId: f.osId ?? 'unknown', osVersion: f.osVersion ?? '', osPretty: f.osPretty ?? '', postgresClusters: parseClusters(f.pg ?? '') };
}

/** `15:5432,17:5433,` (version:port of each `main` cluster pg_lsclusters lists). */
export function parseClusters(s: string): PostgresCluster[] {
  return s
    .split(',')
    .map((x) => /^(\d+(?:\.\d+)?):(\d+)$/.exec(x.trim()))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ version: m[1] ?? '', port: Number(m[2]) }));
}
