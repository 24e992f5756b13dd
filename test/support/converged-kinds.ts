/**
 * The converged lab environments the host tests share. Each is converged once per test run — by the
 * first file that needs it — and saved as a lab snapshot; the other files boot from that snapshot.
 * Kept free of test-runner imports: the sequencer reads PRODUCERS.
 */
export interface LabKind {
  /** part of the snapshot's name */
  name: string;
  /**
   * The files that boot from this kind's snapshot. They run one at a time in a lane of their own (a
   * Vitest project): a snapshot's hosts come back at the addresses they had, so two labs from one
   * snapshot cannot run at once. Other lanes run beside it.
   */
  lane: string[];
  env: string;
  hosts: number;
  /** host → roles for setup-minion (the first host is the master) */
  minions: Record<string, string>;
  /** secrets generated (encrypt --generate) before the converge */
  secrets: string[];
}

/** master lab-1; db, queue and cache on lab-2; the app (web, worker) on lab-3; the balancer on lab-4. */
export const DEMO: LabKind = {
  name: 'demo',
  lane: ['test/hosts/deploy.test.ts', 'test/hosts/release.test.ts', 'test/hosts/roles-data.test.ts', 'test/hosts/roles-minimal.test.ts', 'test/hosts/hooks.test.ts', 'test/hosts/tasks.test.ts', 'test/hosts/recovery.test.ts', 'test/hosts/acme.test.ts', 'test/hosts/procfile.test.ts', 'test/hosts/rolling.test.ts'],
  env: 'lab',
  hosts: 4,
  minions: { 'lab-2': 'db,queue,cache', 'lab-3': 'web,worker', 'lab-4': 'balancer' },
  secrets: ['DB_PASSWORD', 'BROKER_PASSWORD', 'SECRET_KEY'],
};

/**
 * Files with labs of their own (bare hosts, no snapshot) that run in the demo lane after its files,
 * so the two lanes take about as long as each other (see docs/testing.md).
 */
export const BESIDE_DEMO: string[] = [];

/**
 * Files whose own subject is the first converge of a kind from bare hosts: they run first and leave
 * their converged hosts as the kind's snapshot, so no other file converges it again.
 */
export const PRODUCERS = ['test/hosts/deploy.test.ts'];
