/**
 * The one function that turns argv data into a POSIX shell command line. Everything ops builds
 * for a remote shell goes through `shellLine`; nothing else concatenates shell text.
 */
const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quotes one word for sh: safe words stay as they are, others are single-quoted. */
export function quote(word: string): string {
  if (word === '') return "''";
  if (SAFE.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** argv → one command line for `sh -c` (or an SSH exec request, which the login shell runs). */
export function shellLine(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('shellLine: empty argv');
  return argv.map(quote).join(' ');
}
