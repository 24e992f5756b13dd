// Builds dist/ops.mjs once, so CLI tests run the same bundle users run
// (OPS_TEST_NO_BUILD=1 reuses an existing build when iterating).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  if (process.env.OPS_TEST_NO_BUILD === '1') return;
  const root = fileURLToPath(new URL('../..', import.meta.url));
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'inherit' });
}
