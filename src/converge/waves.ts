/** Order of convergence across hosts: data services first, then the app, then what fronts it. */
export const ROLE_WAVE: Record<string, number> = { db: 0, cache: 0, queue: 0, web: 1, worker: 1, balancer: 2, master: 3 };

export function waveOf(roles: readonly string[]): number {
  const waves = roles.map((r) => ROLE_WAVE[r] ?? 1);
  return waves.length === 0 ? 3 : Math.min(...waves);
}

export function inWaves<T extends { roles: readonly string[] }>(hosts: readonly T[]): T[][] {
  const byWave = new Map<number, T[]>();
  for (const h of hosts) {
    const w = waveOf(h.roles);
    byWave.set(w, [...(byWave.get(w) ?? []), h]);
  }
  return [...byWave.entries()].sort(([a], [b]) => a - b).map(([, hs]) => hs);
}
