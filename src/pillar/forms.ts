/**
 * The forms pillar values must have before they reach a host: each is the shape its target needs
 * (an address is an IP address or a host name, a schedule is five cron fields, a command is one
 * line, a name follows a fixed pattern). The schema applies them; the few other places that take
 * such a value from elsewhere (a remote host's `hostname -s`, an environment named on the command
 * line) check it with the same function.
 */
import { isIP } from 'node:net';
import { UsageError } from '../errors.js';

/** Environment names: file names, host names, database and user names (`-` → `_`, which they never hold). */
export const ENV_NAME_RE = /^[a-z][a-z0-9-]{0,23}$/;
export const ENV_NAME_RULE = 'a lower-case letter, then lower-case letters, digits or - (at most 24)';

export function isEnvironmentName(env: string): boolean {
  return ENV_NAME_RE.test(env);
}

/** Throws a usage error (exit 2) for a name that is not an environment name. */
export function checkEnvironmentName(env: string, what = 'environment name'): void {
  if (!isEnvironmentName(env)) throw new UsageError(`${what} '${printable(env)}' is not usable: use ${ENV_NAME_RULE}`);
}

/** Server names in the inventory (also what ops takes from a host's `hostname -s`). */
/** A project's (and other short) names: the app user, /var/www/<project>/, database names. */
export const PROJECT_NAME_RE = /^[a-z][a-z0-9_]{0,30}$/;
export const SERVER_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** Unix user and group names. */
export const UNIX_NAME_RE = /^[a-z_][a-z0-9_-]{0,31}$/;

/** Accounts that exist on every Debian host or that ops's roles own: never an admin's or the app's. */
export const RESERVED_ACCOUNTS = [
  'root', 'daemon', 'bin', 'sys', 'sync', 'games', 'man', 'lp', 'mail', 'news', 'uucp', 'proxy', 'www-data', 'backup', 'list', 'irc', 'gnats', 'nobody',
  'systemd-network', 'systemd-resolve', 'systemd-timesync', 'messagebus', 'sshd', '_apt', 'postgres', 'rabbitmq', 'memcache', 'redis', 'git', 'ops', 'adm', 'sudo', 'staff',
];

/** A host name (RFC 1123 labels) or an IPv4/IPv6 address: never an option, never more than one word. */
export function isHostOrAddress(v: string): boolean {
  if (isIP(v) !== 0) return true;
  if (v.length > 253) return false;
  return v.split('.').every((l) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l));
}

export const HOST_RULE = 'an IP address or a host name (letters, digits, - and . only)';

/** A DNS name (for the site's domain): labels of letters, digits and -. */
export function isDomainName(v: string): boolean {
  return isIP(v) === 0 && isHostOrAddress(v);
}

/** One line: no line break, no NUL. */
/** An email address the CA can write to: local part and a dotted domain, no blanks, quotes or angle brackets. */
export const EMAIL_RE = /^[A-Za-z0-9._%+-]{1,64}@(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/** An ACME directory: an https:// URL with a host, no user name or password, no blanks. */
export function isHttpsUrl(v: string): boolean {
  if (/[\s\0-\x1f'"`\\<>]/.test(v)) return false;
  try {
    const u = new URL(v);
    return u.protocol === 'https:' && u.hostname !== '' && u.username === '' && u.password === '';
  } catch {
    return false;
  }
}

/** A systemd time span ops writes into a timer: a whole number of seconds, minutes, hours or days. */
export const TIMESPAN_RE = /^[1-9][0-9]{0,5}(?:s|min|h|d)$/;

/** Seconds in a time span of TIMESPAN_RE. */
export function timespanSeconds(span: string): number {
  const m = /^(\d+)(s|min|h|d)$/.exec(span);
  if (!m) throw new Error(`not a time span: ${span}`);
  return Number(m[1]) * { s: 1, min: 60, h: 3600, d: 86400 }[m[2] as 's' | 'min' | 'h' | 'd'];
}

/** A Procfile process type as Heroku takes it; it names systemd units (`<project>-<type>@N`). */
export const PROCESS_TYPE_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,29}$/;

export const ONE_LINE_RE = /^[^\r\n\0]*$/;

/** git URLs ops fetches: ssh://, https://, git://, file:// or scp-like user@host:path; never an option. */
export const GIT_URL_RE = /^(?:(?:ssh|https|git|file):\/\/[^\s\0-\x1f'"`\\]+|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s\0-\x1f'"`\\-][^\s\0-\x1f'"`\\]*)$/;
export const GIT_URL_RULE = 'ssh://, https://, git://, file:// or user@host:path, with no spaces or quotes';

/** A branch name git accepts as `refs/heads/<name>` (the usual subset), never an option. */
export const BRANCH_RE = /^(?!-)(?!.*\.\.)(?!.*\/\/)(?!.*@\{)(?!.*\.lock$)(?!.*[./]$)[A-Za-z0-9._/-]{1,200}$/;

/** Five cron fields (minute hour day month weekday) or an @keyword. */
export const CRON_SCHEDULE_RE = /^(?:@(?:reboot|yearly|annually|monthly|weekly|daily|midnight|hourly)|[0-9A-Za-z*/,-]+(?: [0-9A-Za-z*/,-]+){4})$/;

/** A Python object reference: `module.sub[:attr.attr]` (gunicorn's WSGI app, Celery's -A). */
export const PYTHON_REF_RE = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?::[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?:\(\))?)?$/;

/** A URL path for the health check: `/` then URL characters nginx reads as one word. */
export const URL_PATH_RE = /^\/[A-Za-z0-9._~!&()*+,=:@%/?-]*$/;

/** An absolute path of plain characters, no `..` (a login shell). */
export const ABSOLUTE_PATH_RE = /^\/(?!.*(?:^|\/)\.\.(?:\/|$))[A-Za-z0-9._/+-]+$/;

/** A path relative to a repo: no leading `/` or `-`, no `..` part, one line. */
export const RELATIVE_PATH_RE = /^(?![/-])(?!.*(?:^|\/)\.\.(?:\/|$))[^\r\n\0\\]+$/;

/** One OpenSSH public key line: optional options, a key type, base64, an optional comment. */
const KEY_TYPES = '(?:ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)|sk-ssh-ed25519@openssh\\.com|sk-ecdsa-sha2-nistp256@openssh\\.com)';
const KEY_OPTION = '[A-Za-z0-9-]+(?:="(?:[^"\\\\\\r\\n]|\\\\.)*")?';
export const SSH_PUBLIC_KEY_RE = new RegExp(`^(?:${KEY_OPTION}(?:,${KEY_OPTION})* )?${KEY_TYPES} [A-Za-z0-9+/]+={0,3}(?: [^\\r\\n\\0]*)?$`);

/** A basic-auth user name: no `:`, no blanks or control characters. */
export const HTTP_USER_RE = /^[^:\s\0-\x1f]{1,64}$/;

/** A value as it may be shown in one line of an error message. */
export function printable(v: string): string {
  return JSON.stringify(v).slice(1, -1);
}
