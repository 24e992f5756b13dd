/**
 * Rolling releases (`releases.batch`): the web hosts switch batch by batch, each batch taken out
 * of every balancer's upstream while it switches and is checked on its own app servers, and put
 * back before the next.
 */
import type { EmitEvent } from '../ui/events.js';
import { errorMessage, OperationError } from '../errors.js';
import type { Pillar } from '../pillar/schema.js';
import { upstreamFile, upstreamServers } from '../roles/balancer.js';
import type { Host } from '../roles/context.js';
import { hasRole } from '../roles/context.js';
import { captureExec } from '../ssh/command.js';
import { shellLine } from '../ssh/quote.js';
import type { SshSession } from '../ssh/session.js';

/** The web hosts in the order they switch, batch by batch; one batch (all at once) without `releases.batch`. */
export function webBatches<T>(webs: readonly T[], batch: Pillar['releases']['batch']): T[][] {
  if (batch === undefined || webs.length <= 1) return [[...webs]];
  const size = typeof batch === 'number' ? batch : Math.ceil((webs.length * Number(batch.slice(0, -1))) / 100);
  const n = Math.min(Math.max(1, size), webs.length);
  const out: T[][] = [];
  for (let i = 0; i < webs.length; i += n) out.push(webs.slice(i, i + n));
  return out;
}

/**
 * Takes web hosts out of every balancer's upstream and puts them back: the upstream's file
 * (the one the balancer role writes) rewritten with their servers down, then a graceful nginx
 * reload — one per batch, the next batch going out as the last comes back. Requests already on
 * their way finish; new ones go to the other hosts. `restore` is
 * safe to call again; a balancer it cannot reach is reported, never thrown.
 */
export function upstreamControl(o: { pillar: Pillar; hosts: readonly Host[]; session: SshSession; event: EmitEvent }) {
  const balancers = o.hosts.filter((h) => hasRole(h, 'balancer'));
  const webs = o.hosts.filter((h) => hasRole(h, 'web'));
  const file = upstreamFile(o.pillar.project);
  let out = new Set<string>();
  let writes = 0;
  /**
   * Runs `line` as root on every balancer, each to its end (none left half-way behind another),
   * and returns what failed, a line per balancer (`why` words a non-zero exit from its stderr).
   */
  const onEveryBalancer = async (line: string, stdin: Buffer | undefined, why: (err: string, code: number | null) => string): Promise<string[]> => {
    const results = await Promise.allSettled(
      balancers.map(async (b) => {
        const conn = await o.session.connect({ name: b.name, address: b.privateAddress, port: b.port, user: 'root' });
        const r = await captureExec(conn, line, stdin);
        if (r.code !== 0) throw new OperationError(why(r.err.trim(), r.code));
      }),
    );
    return results.flatMap((r, i) => (r.status === 'rejected' ? [`${balancers[i]?.name}: ${errorMessage(r.reason)}`] : []));
  };
  const write = async (drained: Set<string>) => {
    const content = Buffer.from(upstreamServers(o.pillar, webs, drained), 'utf8');
    const tmp = `${file}.ops-new-${process.pid}-${++writes}`;
    // nginx has read the new file once the reload's new workers run: a second for the signal to land
    const line = `set -e\numask 022\ncat > ${shellLine([tmp])}\nmv -f ${shellLine([tmp, file])}\nnginx -t -q\nsystemctl reload nginx\nsleep 1`;
    const failed = await onEveryBalancer(line, content, (err, code) => `the upstream could not be changed: ${err.split('\n').slice(-3).join(' | ') || `exit ${code}`}`);
    if (failed.length > 0) throw new OperationError(failed.join('; '));
  };
  return {
    balancers,
    /** Every balancer answers and its nginx configuration is valid (before anything switches). */
    async check(): Promise<void> {
      const failed = await onEveryBalancer(`test -f ${shellLine([file])} && nginx -t -q`, undefined, (err) => err.split('\n').slice(-2).join(' | ') || `${file} is missing (converge it: ops deploy without --role or --host)`);
      if (failed.length > 0) throw new OperationError(`a rolling release needs every balancer, and ${failed.join('; ')}`);
    },
    /** Takes `hosts` out and puts back those taken out before, in one reload. */
    async takeOut(hosts: readonly Host[]): Promise<void> {
      if (balancers.length === 0) return;
      const next = new Set(hosts.map((h) => h.name));
      const back = [...out].filter((h) => !next.has(h));
      out = next;
      await write(out);
      if (back.length > 0) o.event('release_step', { step: 'into-upstream', hosts: back, balancers: balancers.map((b) => b.name) });
      o.event('release_step', { step: 'out-of-upstream', hosts: [...out], balancers: balancers.map((b) => b.name) });
    },
    /**
     * Puts every host back but `keepOut` (hosts not back on a release that serves); returns what
     * went wrong, for the outcome, or undefined.
     */
    async restore(keepOut: readonly Host[] = []): Promise<string | undefined> {
      if (out.size === 0) return undefined;
      const stay = new Set(keepOut.map((h) => h.name).filter((h) => out.has(h)));
      const back = [...out].filter((h) => !stay.has(h));
      out = stay;
      try {
        await write(out);
        if (back.length > 0) o.event('release_step', { step: 'into-upstream', hosts: back, balancers: balancers.map((b) => b.name) });
        if (stay.size === 0) return undefined;
        const why = `${[...stay].join(', ')} left out of the balancers' upstream: not back on a release that serves; the next ops deploy puts them back`;
        o.event('note', { message: why });
        return why;
      } catch (e) {
        const why = `${back.join(', ')} could not be put back into the balancers' upstream: ${errorMessage(e)}; the next ops deploy puts them back`;
        o.event('note', { message: why });
        return why;
      }
    },
  };
}
