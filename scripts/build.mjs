// Bundles the CLI into dist/: ops.mjs plus chunks/ loaded on demand (each command compiles only
// what it uses). Runs on plain Node 18.19+ with no node_modules; ship the whole folder dist links to (cp -rL dist).
import { build } from 'esbuild';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(`${root}/package.json`, 'utf8'));

// Each build goes to a folder of its own under .dist-builds/, and dist is a symbolic link to the
// newest, replaced in one rename: an ops started meanwhile runs the old bundle or the new one,
// never half of one, and one already running keeps loading its chunks from its own folder
// (Node resolves the link when it starts). Builds of the last day, and at least three, are kept.
const builds = `${root}/.dist-builds`;
const id = `${new Date().toISOString().replace(/[-:.]/g, '')}-${process.pid}`;
const out = `${builds}/${id}`;
mkdirSync(builds, { recursive: true });
const result = await build({
  entryPoints: [`${root}/src/main.ts`],
  outdir: out,
  entryNames: 'ops',
  chunkNames: 'chunks/[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  splitting: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node18.19',
  minify: true,
  // ssh2 tries optional native addons and falls back to pure JS when they are absent.
  // esbuild compiles task files on the operator's machine only (from node_modules); the bundle never carries it.
  external: ['cpu-features', '*.node', 'chokidar', 'esbuild'],
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
  metafile: true,
});
chmodSync(`${out}/ops.mjs`, 0o755);
// modules.json: which packages (and src/ folders) each file of the bundle holds, so what a command
// loads can be told from the files it opens (test/cli/startup.test.ts)
const modules = {};
for (const [file, o] of Object.entries(result.metafile.outputs)) {
  const parts = new Set(Object.keys(o.inputs).map((i) => i.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)?.[1] ?? i.split('/').slice(0, 2).join('/')));
  modules[file.slice(out.length - root.length).replace(/^\/+/, '').replace(/^.*?dist-builds\/[^/]+\//, '')] = [...parts].sort();
}
writeFileSync(`${out}/modules.json`, `${JSON.stringify(modules, null, 1)}\n`);
// ssh2's native AES-GCM/ChaCha20 binding, when npm built it for this machine's Node: found by the
// bundled ssh2 next to its chunk; a Node it was not built for (a master's) falls back to pure JS.
const binding = `${root}/node_modules/ssh2/lib/protocol/crypto/build/Release/sshcrypto.node`;
if (existsSync(binding)) cpSync(binding, `${out}/chunks/crypto/build/Release/sshcrypto.node`);
// The built-in templates travel with the bundle (a project's templates/ overrides them by path).
cpSync(`${root}/templates`, `${out}/templates`, { recursive: true });
const dist = `${root}/dist`;
// a dist/ folder of an older build script: replaced by the link once
if (existsSync(dist) && !lstatSync(dist).isSymbolicLink()) rmSync(dist, { recursive: true, force: true });
symlinkSync(`.dist-builds/${id}`, `${dist}.link-${process.pid}`);
renameSync(`${dist}.link-${process.pid}`, dist);
// the newest three stay, and any made in the last day (an ops started then may still load its chunks)
const day = Date.now() - 86_400_000;
for (const old of readdirSync(builds).sort().slice(0, -3)) if (statSync(`${builds}/${old}`).mtimeMs < day) rmSync(`${builds}/${old}`, { recursive: true, force: true });
