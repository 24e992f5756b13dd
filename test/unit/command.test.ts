import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { renderCommand } from '../../src/ssh/command.js';
import { quote, shellLine } from '../../src/ssh/quote.js';

const sh = (line: string) => execFileSync('sh', ['-c', line]).toString();

describe('quote / shellLine', () => {
  const awkward = ["it's", 'a b', '$HOME', '`id`', 'back\\slash', 'new\nline', '', '*', '-n', 'ünï', '"dq"', ';rm -rf /', '!x'];
  it('survives a real shell unchanged, for every awkward word', () => {
    for (const w of awkward) expect(sh(shellLine(['printf', '%s', w]))).toBe(w);
  });
  it('leaves plain words readable', () => {
    expect(shellLine(['systemctl', 'reload', 'nginx.service'])).toBe('systemctl reload nginx.service');
    expect(quote('a b')).toBe("'a b'");
  });
});

describe('renderCommand', () => {
  it('sends an operator line exactly as typed (the login shell runs it, as with ssh)', () => {
    expect(renderCommand({ line: 'ls | wc -l' }, {}, { loginUser: 'deploy' })).toBe('ls | wc -l');
  });
  it('wraps in sudo only when the login user differs, never prompting on the remote side', () => {
    expect(renderCommand({ argv: ['id', '-u'] }, { sudo: true }, { loginUser: 'root' })).toBe('id -u');
    expect(renderCommand({ argv: ['id', '-u'] }, { sudo: true }, { loginUser: 'alice' })).toBe("sudo -n -p '' -H -- sh -c 'id -u'");
    expect(renderCommand({ line: 'echo $HOME' }, { sudo: 'demo' }, { loginUser: 'alice', sudoPassword: true })).toBe(
      "sudo -S -p '' -H -u demo -- sh -c 'echo $HOME'",
    );
  });
  it('adds cwd and non-secret environment, still quoting through one function', () => {
    const line = renderCommand({ argv: ['sh', '-c', 'printf "%s|%s" "$PWD" "$X"'] }, { cwd: '/tmp', env: { X: "a 'b' $c" } }, { loginUser: 'root' });
    expect(sh(line)).toBe("/tmp|a 'b' $c");
  });
});
