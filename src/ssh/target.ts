/** A host ops connects to, as resolved from the inventory and the command line. */
export interface Target {
  /** Inventory name (or the address when the host is not in the inventory). */
  name: string;
  address: string;
  port: number;
  user: string;
  /** Reach this host through another one (the environment's master). */
  via?: Target;
}

export function describeTarget(t: Target): string {
  const port = t.port === 22 ? '' : `:${t.port}`;
  return t.name === t.address ? `${t.user}@${t.address}${port}` : `${t.name} (${t.user}@${t.address}${port})`;
}
