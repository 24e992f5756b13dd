/** Where a task's output goes: this terminal (host-prefixed lines), or NDJSON events for the operator. */
import { HostPrinter } from '../ui/hosts.js';
import type { Output } from '../ui/output.js';
import type { TaskIO } from './context.js';

/**
 * Human lines (stderr), results (stdout), host-prefixed command output; with --json, NDJSON events
 * only — which is how a task on the master reports to the operator's ops.
 */
export function terminalIO(out: Output, hosts: readonly string[]): TaskIO {
  const printer = new HostPrinter(out, hosts, true);
  const sinks = new Map<string, (b: Buffer) => void>();
  const sink = (host: string, stream: 'stdout' | 'stderr') => {
    const key = `${host}\0${stream}`;
    let s = sinks.get(key);
    if (!s) sinks.set(key, (s = printer.sink(host, stream)));
    return s;
  };
  return {
    info: (m) => (out.json ? out.event('log', { level: 'info', message: m }) : out.info(m)),
    warn: (m) => (out.json ? out.event('log', { level: 'warning', message: m }) : out.warn(m)),
    result: (m) => (out.json ? out.event('result', { message: m }) : out.result(m, null)),
    event: (type, data) => out.event(type, data),
    output: (host, stream, chunk) => sink(host, stream)(chunk),
    flush: (host) => printer.flush(host),
  };
}
