// Bundles the CLI into one file that runs on plain Node 18.19+ with no node_modules.
import { build } from 'esbuild';
import { chmodSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(`${root}/package.json`, 'utf8'));

await build({
  entryPoints: [`${root}/src/main.ts`],
  outfile: `${root}/dist/ops.mjs`,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node18.19',
  minify: true,
  // ssh2 tries optional native addons and falls back to pure JS when they are absent.
  external: ['cpu-features', '*.node'],
  define: { OPS_VERSION: JSON.stringify(pkg.version) },
  banner: {
    // Bundled CommonJS dependencies (ssh2) expect require, __filename and __dirname.
    js: [
      "import { createRequire as __opsCreateRequire } from 'node:module';",
      "import { fileURLToPath as __opsFileURLToPath } from 'node:url';",
      'const require = __opsCreateRequire(import.meta.url);',
      'const __filename = __opsFileURLToPath(import.meta.url);',
      "const __dirname = __opsFileURLToPath(new URL('.', import.meta.url));",
    ].join(' '),
  },
  legalComments: 'none',
  logLevel: 'warning',
});
chmodSync(`${root}/dist/ops.mjs`, 0o755);
