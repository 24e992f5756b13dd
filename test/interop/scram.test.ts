/**
 * ops's SCRAM-SHA-256 verifiers against this machine's real PostgreSQL (installed by
 * scripts/setup-machine.sh, started here if it is not running): a verifier PostgreSQL made from a password matches it in ops, and a
 * verifier ops made lets libpq (psql) log in with the password — also for passwords SASLprep
 * changes (a soft hyphen, a zero-width space, a compatibility character) and for those it refuses,
 * which both sides then take as they are.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { preparedPassword, scramMatches, scramVerifier } from '../../src/states/scram.js';
import { startLocalPostgres } from '../support/local-pg.js';

const role = `ops_test_scram_${randomBytes(4).toString('hex')}`;
const asPostgres = (sql: string) => execFileSync('runuser', ['-u', 'postgres', '--', 'psql', '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1'], { input: sql }).toString().trim();
const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

function logsIn(password: string): boolean {
  try {
    const out = execFileSync('psql', ['-X', '-At', '-h', '127.0.0.1', '-U', role, '-d', 'postgres', '-c', 'select current_user'], { env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: '5' }, stdio: ['ignore', 'pipe', 'pipe'] });
    return out.toString().trim() === role;
  } catch {
    return false;
  }
}

afterAll(() => {
  asPostgres(`drop role if exists ${role}`);
});

describe('SCRAM verifiers and PostgreSQL', () => {
  startLocalPostgres();
  asPostgres(`create role ${role} login`);

  it.each([
    ['plain ASCII', 'plain-Passw0rd'],
    ['a soft hyphen (mapped to nothing)', 'pass\u00adword'],
    ['a zero-width space (mapped to a space)', 'zero\u200bwidth'],
    ['a no-break space and a fullwidth letter (NFKC)', 'no\u00a0break\uff21'],
    ['a control character (SASLprep refuses it: taken as it is)', 'bell\u0007char'],
    ['mixed right-to-left and left-to-right (refused: as it is)', 'abc\u05d0\u05d1'],
  ])('%s', (_what, password) => {
    // PostgreSQL's own verifier matches in ops
    asPostgres(`set password_encryption = 'scram-sha-256'; alter role ${role} password ${literal(password)}`);
    const theirs = asPostgres(`select rolpassword from pg_authid where rolname = ${literal(role)}`);
    expect(theirs).toMatch(/^SCRAM-SHA-256\$/);
    expect(scramMatches(theirs, password)).toBe(true);
    expect(scramMatches(theirs, `${password}x`)).toBe(false);
    // ops's verifier lets libpq log in with the password
    asPostgres(`alter role ${role} password ${literal(scramVerifier(password))}`);
    expect(logsIn(password)).toBe(true);
    expect(logsIn(`${password}x`)).toBe(false);
  });

  it('prepares as RFC 4013 says', () => {
    expect(preparedPassword('a\u00adb')).toBe('ab');
    expect(preparedPassword('I\u2168')).toBe('IIX');
    expect(preparedPassword('bell\u0007')).toBe('bell\u0007');
  });
});
