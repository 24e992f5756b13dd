import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderEnvFile, WITH_ENV_SCRIPT } from '../../src/roles/app.js';

describe('the app environment file', () => {
  it('carries any value byte for byte through with-env (quotes, $, \\, newlines, unicode)', () => {
    const vars: Record<string, string> = {
      SINGLE: "it's",
      DOUBLE: 'say "hi"',
      DOLLAR: '$HOME ${PATH} $(id) `id`',
      BACKSLASH: 'a\\b\\\\c\\n',
      NEWLINES: 'line1\nline2\n\nline4\n',
      UNICODE: 'ünïcödé ✓ 日本語 🙂',
      EMPTY: '',
      SPACES: '  padded  ',
    };
    const dir = mkdtempSync(join(tmpdir(), 'ops-env-'));
    writeFileSync(join(dir, 'env'), renderEnvFile(vars));
    writeFileSync(join(dir, 'with-env'), WITH_ENV_SCRIPT, { mode: 0o755 });
    const script = "import json, os, sys; json.dump({k: os.environ.get(k) for k in sys.argv[1:]}, sys.stdout)";
    for (const sh of ['/bin/sh', '/bin/bash']) {
      const out = execFileSync(sh, [join(dir, 'with-env'), join(dir, 'env'), '/usr/bin/python3', '-c', script, ...Object.keys(vars)]).toString();
      expect(JSON.parse(out)).toEqual(vars);
    }
  });
});
