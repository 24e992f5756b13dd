/**
 * Local processes (src/util/proc.ts): real programs on this machine. A timeout, a signal, output
 * past the limit and a program that is not there are each named as such; a failure quotes the
 * end of its output in one format; what ops starts for a command's work ends when ops ends.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { outputTail, runLocal, runLocalBytes, runLocalOk } from '../../src/util/proc.js';
import { ROOT, tempDir } from '../support/ops.js';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('local processes', () => {
  it('an exit code is the caller\'s; runLocalOk names the command and the end of its output', async () => {
    expect(await runLocal('sh', ['-c', 'echo out; echo err >&2; exit 3'])).toEqual({ code: 3, stdout: 'out\n', stderr: 'err\n' });
    await expect(runLocalOk('sh', ['-c', 'for i in 1 2 3 4 5; do echo "line $i" >&2; done; exit 4'])).rejects.toThrow(/^sh -c for i in .* failed \(exit 4\): line 3 \| line 4 \| line 5$/);
    expect(await runLocalOk('cat', [], { input: 'in' })).toBe('in');
  });

  it('a timeout, a signal, too much output and a missing program are each named', async () => {
    await expect(runLocal('sh', ['-c', 'echo started >&2; exec sleep 30'], { timeoutMs: 300 })).rejects.toThrow('sh did not finish within 0.3 s and was stopped: started');
    await expect(runLocal('sh', ['-c', 'kill -TERM $$'])).rejects.toThrow('sh was killed by SIGTERM');
    await expect(runLocal('head', ['-c', '100000', '/dev/zero'], { maxBytes: 1000 })).rejects.toThrow('head printed more than 1.00 KB and was stopped');
    await expect(runLocal('no-such-program-here', [])).rejects.toThrow('cannot run no-such-program-here: not installed (not found in PATH)');
  });

  it('bytes stay bytes; the tail is three lines on one line', async () => {
    const r = await runLocalBytes('printf', ['\\377\\000\\001']);
    expect([...r.stdout]).toEqual([255, 0, 1]);
    expect(outputTail({ stderr: 'a\n\nb\nc\nd\n' })).toBe('b | c | d');
    expect(outputTail({ stderr: '', stdout: 'only stdout\n' })).toBe('only stdout');
  });

  it('what ops starts ends when ops ends: exiting, or stopped by SIGTERM', async () => {
    const dir = tempDir();
    const bundle = join(dir, 'child.mjs');
    writeFileSync(join(dir, 'entry.ts'), `import { startLocal } from ${JSON.stringify(join(ROOT, 'src/util/proc.ts'))};\nconst c = startLocal('sleep', ['300']);\nc.on('spawn', () => { process.stdout.write(String(c.pid) + '\\n'); if (process.argv[2] === 'exit') setTimeout(() => process.exit(0), 100); });\nsetInterval(() => undefined, 1000);\n`);
    await build({ entryPoints: [join(dir, 'entry.ts')], bundle: true, platform: 'node', format: 'esm', outfile: bundle, logLevel: 'silent', banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" } });
    for (const how of ['exit', 'SIGTERM'] as const) {
      const parent = spawn(process.execPath, [bundle, how], { stdio: ['ignore', 'pipe', 'inherit'] });
      const pid = await new Promise<number>((resolve) => parent.stdout.once('data', (b: Buffer) => resolve(Number(b.toString().trim()))));
      expect(alive(pid), how).toBe(true);
      if (how === 'SIGTERM') parent.kill('SIGTERM');
      await new Promise((resolve) => parent.once('exit', resolve));
      for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
      expect(alive(pid), `sleep ${pid} after ops ended (${how})`).toBe(false);
    }
  });
});
