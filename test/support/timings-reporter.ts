/**
 * Prints each test file's wall time at the end of a run, slowest first, so the suite's budget is
 * visible in every CI log (docs/testing.md keeps the same figures per host test).
 */
import { relative } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

function wallMs(m: TestModule): number {
  const d = m.diagnostic();
  return d.environmentSetupDuration + d.prepareDuration + d.collectDuration + d.setupDuration + d.duration;
}

function clock(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)} m ${String(s % 60).padStart(2, '0')} s` : `${(ms / 1000).toFixed(1)} s`;
}

export default class TimingsReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    if (modules.length === 0) return;
    const rows = modules.map((m) => ({ file: relative(process.cwd(), m.moduleId), project: m.project.name, ms: wallMs(m), state: m.state() })).sort((a, b) => b.ms - a.ms);
    const total = rows.reduce((t, r) => t + r.ms, 0);
    const lines = rows.map((r) => `  ${clock(r.ms).padStart(9)}  ${r.project.padEnd(6)} ${r.file}${r.state === 'passed' ? '' : `  (${r.state})`}`);
    process.stdout.write(`\nTest files by wall time, slowest first (sum ${clock(total)}):\n${lines.join('\n')}\n`);
  }
}
