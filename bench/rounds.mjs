// Summarises a benchmark run in rounds (every command once per round, in a rotating order, each
// run timed by hyperfine --runs 1 --export-json DIR/<round>-<n>.json): per command the mean,
// standard deviation, min and max over the rounds, and its ratio to a baseline command taken
// round by round (the runs of one round are minutes apart, so a machine that slows down or
// speeds up over the whole run weighs on every command alike).
// Usage: node bench/rounds.mjs DIR BASELINE_NAME [OTHER_BASELINE_NAME…] > table.md
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, ...baselines] = process.argv.slice(2);
if (!dir || baselines.length === 0) {
  console.error('usage: node bench/rounds.mjs DIR BASELINE_NAME [OTHER_BASELINE_NAME…]');
  process.exit(2);
}
/** name → round → seconds */
const times = new Map();
for (const f of readdirSync(dir).filter((n) => /^\d+-\d+\.json$/.test(n))) {
  const round = Number(f.split('-')[0]);
  for (const r of JSON.parse(readFileSync(join(dir, f), 'utf8')).results) {
    if (!times.has(r.command)) times.set(r.command, new Map());
    times.get(r.command).set(round, r.mean);
  }
}
const stats = (xs) => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, sd, min: Math.min(...xs), max: Math.max(...xs) };
};
const fmt = (s) => `${s.mean.toFixed(3)} ± ${s.sd.toFixed(3)} s`;
for (const b of baselines) if (!times.has(b)) throw new Error(`no runs of the baseline '${b}'`);
const head = ['command', 'rounds', 'mean ± σ', 'min', 'max', ...baselines.map((b) => `${b} ÷ this (per round)`)];
console.log(`| ${head.join(' | ')} |`);
console.log(`|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
for (const [name, byRound] of times) {
  const s = stats([...byRound.values()]);
  const ratios = baselines.map((b) => {
    const base = times.get(b);
    const rs = [...byRound].filter(([round]) => base.has(round)).map(([round, t]) => base.get(round) / t);
    const r = stats(rs);
    return `${r.mean.toFixed(2)} ± ${r.sd.toFixed(2)}×`;
  });
  console.log(`| ${[name, byRound.size, fmt(s), `${s.min.toFixed(3)} s`, `${s.max.toFixed(3)} s`, ...ratios].join(' | ')} |`);
}
