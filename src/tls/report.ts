/** One line for people of a certificate event (`tls`, and the balancers' `state` changes of a renewal). */
export function tlsLine(e: Record<string, unknown>): string | undefined {
  const names = Array.isArray(e.names) ? (e.names as string[]).join(', ') : String(e.domain ?? '');
  const until = e.not_after ? ` (valid until ${String(e.not_after)})` : '';
  if (e.type === 'state') return e.status === 'changed' ? `${e.host}: ${e.id} — ${e.summary}` : undefined;
  if (e.type === 'lock') return String(e.message);
  if (e.type !== 'tls') return undefined;
  switch (e.status) {
    case 'requesting':
      return `certificate for ${names}: asking ${e.directory} (${e.reason})`;
    case 'issued':
      return `certificate for ${names}: issued${until}, on every balancer`;
    case 'renewed':
      return `certificate for ${names}: renewed${until}, on every balancer`;
    case 'valid':
      return `certificate for ${names}: valid${until}`;
    case 'would-issue':
    case 'would-renew':
      return `certificate for ${names}: ${String(e.status).replace('-', ' ')} (${e.reason})`;
    case 'warning':
      return `certificate for ${e.domain}: warning: ${e.error}`;
    case 'skipped':
      return `certificate for ${e.domain}: not checked (${e.reason})`;
    case 'failed':
      return `certificate for ${names}: FAILED: ${e.error}; ${e.not_after ? `the one valid until ${String(e.not_after)} serves on` : 'the self-signed one serves until one is issued'}${e.fatal ? '' : ", and the master's timer tries again"}`;
    default:
      return undefined;
  }
}
