/**
 * `--direct`: the target db host pulls the dump from the source db host itself, with OpenSSH,
 * and ops steps out of the data path (no relay, half the encryption).
 *
 * How the target logs in to the source without holding a key: for each pull ops makes a
 * throw-away ed25519 key in memory and authorizes it on the source (through its own connection)
 * for exactly one command — `restrict,command="…"` in the login user's authorized_keys — then
 * lends it to the target through an agent inside the ops process (LentAgent, forwarded on a
 * connection of its own, one signature). Right after the pull the line is removed again; a line
 * left by a run killed too hard to clean up is worthless (its private half died with ops) and
 * the next pull removes it after an hour. The operator's own keys are never lent. The source's
 * host key is the one pinned in ops's known_hosts; nothing but that public key (in a temporary
 * known_hosts file) lands on the target.
 *
 * Both ends stop when ops does: the script on the target stops its process group when its input
 * from ops ends, and the command on the source does the same when its input (from the target's
 * ssh) ends.
 */
import { randomBytes } from 'node:crypto';
import ssh2 from 'ssh2';
import { OperationError, UsageError, errorMessage } from '../errors.js';
import { generateEd25519 } from '../secrets/sshkey.js';
import { captureExec } from '../ssh/command.js';
import type { Connection } from '../ssh/connection.js';
import type { PinnedKey } from '../ssh/knownhosts.js';
import { LentAgent } from '../ssh/lent-agent.js';
import { quote, shellLine } from '../ssh/quote.js';
import type { SshSession } from '../ssh/session.js';
import type { Target } from '../ssh/target.js';
import type { Output } from '../ui/output.js';
import { pgRestoreArgv } from './pg.js';
import { postgresLine } from './pghost.js';
import type { Loader } from './replace.js';
import { remoteProc } from './stream.js';

/** The source as the target host sees it. */
export interface PullSource {
  name: string;
  /** Where the target reaches its sshd (its private address when it has one). */
  address: string;
  port: number;
  user: string;
  hostKeys: readonly PinnedKey[];
}

const ALIAS = 'ops-source';
const PROBE_BYTES = 32 * 1024 * 1024;
/** ssh's own failures (cannot connect, host key, login refused, connection lost); 141: killed by SIGPIPE. */
const SSH_FAILED = 255;
const SIGPIPE = 141;
/** Pull keys in authorized_keys are named `ops-pull-<id>-<unix time>`; older than this, removed. */
const STALE_SECONDS = 3600;

/**
 * The OpenSSH client on the target: no config files, only the pinned host keys (from the file
 * named by $OPS_PULL_KNOWN_HOSTS, expanded by ssh itself), only the lent agent's key. Its input
 * is the script's input from ops (fd 3), so the source sees the end of it when ops stops.
 */
export function sshArgv(src: PullSource): string[] {
  return [
    'ssh', '-F', '/dev/null', '-T', '-x', '-a',
    '-o', 'BatchMode=yes',
    '-o', 'IdentityFile=none',
    '-o', 'PasswordAuthentication=no',
    '-o', 'KbdInteractiveAuthentication=no',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'UserKnownHostsFile=${OPS_PULL_KNOWN_HOSTS}',
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', `HostKeyAlias=${ALIAS}`,
    '-o', 'UpdateHostKeys=no',
    '-o', 'ConnectTimeout=10',
    '-o', 'ServerAliveInterval=5',
    '-o', 'ServerAliveCountMax=3',
    '-p', String(src.port),
    '-l', src.user,
  ];
}

/** Bash text that ends this process group when fd 3 reaches its end (builtins only). */
const WATCH_INPUT = '{ while read -r -u 3 _; do :; done; kill -TERM 0; } </dev/null >/dev/null 2>&1 &';

/**
 * The bash script run on the target: `remote` on the source through ssh, its output into `local`
 * (shell text made of quoted words), then a last stderr line `ops-pull-status <ssh> <local…>`.
 * ssh's stderr (its own words and the source command's) is kept in a file and told after the
 * pipeline, behind a line `ops-pull-ssh`: written live, it interleaves with the writes of the
 * local end (pg_restore writes one message in several pieces), and the lines cannot be told apart.
 * The cipher: AES-GCM where the CPU has AES instructions (half the CPU of ChaCha20 per byte
 * there), else ChaCha20.
 */
export function pullScript(src: PullSource, remote: string, local: string): string {
  if (src.hostKeys.length === 0) throw new OperationError(`--direct: no pinned host key for ${src.name}`, `connect to it once (e.g. ops run <env> --host ${src.name} -- true) so its key is pinned`);
  const pins = src.hostKeys.map((k) => `${ALIAS} ${k.type} ${k.blob.toString('base64')}`);
  return [
    'export LC_ALL=C',
    '[ "${BASH_VERSINFO[0]}" -ge 5 ] || { echo "--direct needs bash 5 or later on this host" >&2; exit 97; }',
    'command -v ssh >/dev/null || { echo "--direct needs the OpenSSH client on this host (package openssh-client)" >&2; exit 97; }',
    // fd 3: this script's input from ops, held open until the end
    'exec 3<&0 </dev/null',
    "trap 'exit 143' TERM",
    'OPS_PULL_KNOWN_HOSTS=$(mktemp -t ops-pull.XXXXXX) || exit 1',
    'export OPS_PULL_KNOWN_HOSTS',
    `trap 'rm -f "$OPS_PULL_KNOWN_HOSTS"' EXIT`,
    'e=$(mktemp -t ops-pull.XXXXXX) || exit 1',
    `trap 'rm -f "$OPS_PULL_KNOWN_HOSTS" "$e"' EXIT`,
    `printf '%s\\n' ${pins.map(quote).join(' ')} > "$OPS_PULL_KNOWN_HOSTS"`,
    WATCH_INPUT,
    'w=$!',
    'if grep -qw aes /proc/cpuinfo 2>/dev/null; then c=aes128-gcm@openssh.com,chacha20-poly1305@openssh.com; else c=chacha20-poly1305@openssh.com,aes128-gcm@openssh.com; fi',
    `${shellLine(sshArgv(src))} -c "$c" -- ${quote(src.address)} ${quote(remote)} <&3 2>"$e" | ${local}`,
    's=("${PIPESTATUS[@]}")',
    'kill "$w" 2>/dev/null',
    'if [ -s "$e" ]; then echo ops-pull-ssh >&2; cat "$e" >&2; fi',
    'echo "ops-pull-status ${s[*]}" >&2',
    'for x in "${s[@]}"; do [ "$x" = 0 ] || exit 1; done',
  ].join('\n');
}

/**
 * The command line that runs a pull script: in a session of its own (so its `kill 0` reaches
 * exactly the pull), with bash, waiting for it and passing its status on.
 */
export function pullLine(script: string): string {
  return shellLine(['setsid', '-w', 'bash', '-c', script]);
}

/** `line` on the source, stopped (with everything it started) when its input ends. */
export function stoppedWithInput(line: string): string {
  // one line: it becomes a forced command in authorized_keys (`&` ends the watcher's command)
  return pullLine(`exec 3<&0 </dev/null; trap 'exit 143' TERM; ${WATCH_INPUT} w=$!; ${line}; s=$?; kill "$w" 2>/dev/null; exit $s`);
}

/** An authorized_keys line allowing `publicLine`'s key nothing but `command`. */
export function restrictedKeyLine(command: string, publicLine: string): string {
  if (/[\r\n]/.test(command)) throw new Error('a forced command must be one line');
  // sshd unescapes only \" inside command="…"; every other character stays as written
  return `restrict,command="${command.replace(/"/g, '\\"')}" ${publicLine}`;
}

/**
 * Run as the source's login user: the lines on stdin are added to ~/.ssh/authorized_keys, the
 * pull key named $1 and pull keys older than STALE_SECONDS are removed — by writing a new file
 * and renaming it over the old one, so the file is never seen half-written.
 */
export const EDIT_AUTHORIZED_KEYS = [
  'set -e',
  'umask 077',
  'f="$HOME/.ssh/authorized_keys"',
  'mkdir -p "$HOME/.ssh"',
  '[ ! -L "$f" ] || { echo "$f is a symbolic link: ops does not edit it" >&2; exit 3; }',
  '[ -f "$f" ] || : > "$f"',
  't=$(mktemp "$f.ops-XXXXXX")',
  `trap 'rm -f "$t"' EXIT`,
  `awk -v now="$(date +%s)" -v drop="$1" '$NF ~ /^ops-pull-[0-9a-f]+-[0-9]+$/ { n = split($NF, a, "-"); if ($NF == drop || now - a[n] > ${STALE_SECONDS}) next } { print }' "$f" > "$t"`,
  'cat >> "$t"',
  'mv -f "$t" "$f"',
].join('\n');

function statuses(line: string): number[] | undefined {
  const m = /^ops-pull-status ((?:\d+ ?)+)$/.exec(line);
  return m ? (m[1] ?? '').trim().split(' ').map(Number) : undefined;
}

/**
 * Reads a pull script's stderr line by line: the statuses, ssh's lines (told after the line
 * `ops-pull-ssh`), and, given `onBytes`, dd's progress. `see` answers true for the script's own
 * lines, which stay out of an error message.
 */
export class PullStderr {
  statuses: number[] | undefined;
  /** ssh's last line that is not the source command's: its own word when ssh failed. */
  sshLine = '';
  private fromSsh = false;
  constructor(private readonly onBytes?: (bytes: number) => void) {}

  readonly see = (line: string): boolean => {
    const st = statuses(line);
    if (st !== undefined) {
      this.statuses = st;
      this.fromSsh = false;
      return true;
    }
    if (line === 'ops-pull-ssh') {
      this.fromSsh = true;
      return true;
    }
    if (this.fromSsh) {
      if (!/^pg_(dump|restore): /.test(line)) this.sshLine = line;
      return false;
    }
    if (this.onBytes) {
      const m = /^(\d+) bytes\b.*copied/.exec(line);
      if (m) {
        this.onBytes(Number(m[1]));
        return true;
      }
      if (/^\d+\+\d+ records (in|out)$/.test(line)) return true;
    }
    return false;
  };
}

/**
 * Which part of a pull failed, from its statuses (ssh first): ssh itself (it could not connect or
 * log in, or lost the connection), the command on the source, or the local end. A local end that
 * fails first makes the part before it die of a closed pipe (141), and ssh then ends with 255.
 */
export function failedPart(st: readonly number[] | undefined): 'ssh' | 'remote' | 'local' | 'unknown' {
  if (!st || st.length < 2) return 'unknown';
  const [ssh = 0, ...local] = st;
  if (ssh === SSH_FAILED && local[0] !== SIGPIPE) return 'ssh';
  if (ssh !== 0 && ssh !== SIGPIPE && ssh !== SSH_FAILED) return 'remote';
  return local.some((s) => s !== 0 && s !== SIGPIPE) ? 'local' : 'unknown';
}

export class DirectPull {
  private constructor(
    private readonly out: Output,
    private readonly conn: Connection,
    private readonly srcConn: Connection,
    private readonly src: PullSource,
    private readonly agent: LentAgent,
  ) {}

  /** A connection of its own to the target, lending it an agent for this copy's pulls. */
  static async open(out: Output, session: SshSession, target: Target, srcConn: Connection, src: PullSource): Promise<DirectPull> {
    if (src.hostKeys.length === 0) throw new UsageError(`--direct: no pinned host key for ${src.name}`);
    const agent = new LentAgent(src.user, src.hostKeys.map((k) => k.blob));
    const conn = await session.separate(target, { forwardAgent: agent });
    return new DirectPull(out, conn, srcConn, src, agent);
  }

  private get where(): string {
    return `${this.conn.target.name} → ${this.src.name} (${this.src.user}@${this.src.address}:${this.src.port})`;
  }

  /** A throw-away key, authorized on the source for `command` only and lent to the target. */
  private async authorize(command: string): Promise<string> {
    const marker = `ops-pull-${randomBytes(6).toString('hex')}-${Math.floor(Date.now() / 1000)}`;
    const pair = generateEd25519(marker);
    const key = ssh2.utils.parseKey(pair.privatePem);
    if (key instanceof Error || Array.isArray(key)) throw new Error('cannot read the pull key ops just made');
    await this.editAuthorizedKeys('', `${restrictedKeyLine(command, pair.publicLine)}\n`);
    this.agent.lend(key);
    return marker;
  }

  private async editAuthorizedKeys(drop: string, add: string): Promise<void> {
    const what = `cannot ${add ? 'authorize the pull key in' : 'remove the pull key from'} ~/.ssh/authorized_keys of ${this.src.user} on ${this.src.name}`;
    let r: Awaited<ReturnType<typeof captureExec>>;
    try {
      r = await captureExec(this.srcConn, shellLine(['sh', '-c', EDIT_AUTHORIZED_KEYS, 'sh', drop]), Buffer.from(add));
    } catch (e) {
      throw new OperationError(`--direct: ${what}: ${errorMessage(e)}`);
    }
    if (r.code !== 0) throw new OperationError(`--direct: ${what}: ${r.err.trim().split('\n').pop() ?? `exit ${r.code}`}`);
  }

  /** Removes the pull key again; a failure is only a warning (the key is useless without ops). */
  private async revoke(marker: string): Promise<void> {
    try {
      await this.editAuthorizedKeys(marker, '');
    } catch (e) {
      this.out.warn(`${errorMessage(e)} (harmless: its private half is gone with this run; a --direct an hour from now removes it)`);
    }
  }

  private failure(err: PullStderr, tail: string, local: string): OperationError {
    const st = err.statuses;
    const sshLine = err.sshLine;
    const detail = tail === '' ? '' : `: ${tail}`;
    const part = failedPart(st);
    if (part === 'ssh') {
      const refused = [...this.agent.refused];
      const why = sshLine || tail;
      return new OperationError(
        `--direct: ${this.where}: ssh failed${why === '' ? '' : `: ${why}`}${refused.length > 0 ? ` (the lent key refused: ${refused.join('; ')})` : ''}`,
        `--direct needs ${this.conn.target.name} to reach the sshd of ${this.src.name} at ${this.src.address}:${this.src.port}; without --direct the stream goes through ops`,
      );
    }
    if (part === 'remote') return new OperationError(`pg_dump on ${this.src.name} (pulled by ${this.conn.target.name}) failed (exit ${st?.[0]})${detail}`);
    if (part === 'local') return new OperationError(`${local} on ${this.conn.target.name} failed (exit ${st?.find((s, i) => i > 0 && s !== 0 && s !== SIGPIPE)})${detail}`);
    return new OperationError(`--direct on ${this.conn.target.name}${detail || ' failed'}`);
  }

  /** Starts a pull script on the target; the agent-forwarding refusal gets its own message. */
  private async start(script: string, what: string, opts: Parameters<typeof remoteProc>[3]) {
    return remoteProc(this.conn, pullLine(script), what, opts).catch((e: unknown) => {
      if (/agent forwarding/i.test(errorMessage(e))) {
        throw new OperationError(
          `--direct: ${this.conn.target.name} does not allow agent forwarding for ${this.conn.user}`,
          'allow it there (sshd AllowAgentForwarding, no restrict/no-agent-forwarding on the key ops logs in with), or copy without --direct',
        );
      }
      throw e;
    });
  }

  /** MB/s from the source to the target over this path (32 MB of zeros, timed after the login). */
  async probe(): Promise<number> {
    const remote = `head -c 1 /dev/zero; head -c ${PROBE_BYTES} /dev/zero`;
    const marker = await this.authorize(remote);
    try {
      const script = pullScript(this.src, remote, '{ dd bs=1 count=1 status=none of=/dev/null; t=${EPOCHREALTIME/./}; n=$(wc -c); echo "$n $(( ${EPOCHREALTIME/./} - t ))"; }');
      const err = new PullStderr();
      let answer = '';
      const proc = await this.start(script, `--direct: measuring ${this.where}`, {
        onStderrLine: err.see,
        failure: (_code, _signal, tail) => this.failure(err, tail, 'measuring'),
      });
      proc.stdout?.on('data', (b: Buffer) => (answer += b.toString('utf8')));
      await proc.done;
      const [bytes, micros] = answer.trim().split(' ').map(Number);
      if (!bytes || micros === undefined || Number.isNaN(micros)) throw new OperationError(`--direct: measuring ${this.where}: unexpected answer '${answer.trim()}'`);
      return bytes / Math.max(micros, 1);
    } finally {
      await this.revoke(marker);
    }
  }

  /** Fills the new database from `dumpArgv` run on the source (as postgres there). */
  loader(dumpArgv: readonly string[]): Loader {
    return async (incoming, onBytes, signal) => {
      const dump = stoppedWithInput(postgresLine(this.src.user, dumpArgv));
      const marker = await this.authorize(dump);
      let bytes = 0;
      const err = new PullStderr((n) => {
        bytes = n;
        onBytes(n);
      });
      try {
        const restore = postgresLine(this.conn.user, pgRestoreArgv(incoming));
        const script = pullScript(this.src, dump, `dd bs=256k status=progress | ${restore}`);
        const proc = await this.start(script, `pg_restore on ${this.conn.target.name}`, {
          onStderrLine: err.see,
          failure: (_code, _signal, tail) => this.failure(err, tail, 'pg_restore'),
        });
        proc.stdout?.resume(); // nothing comes out, but its end must be read for the channel to close
        const stop = () => proc.kill();
        signal.addEventListener('abort', stop, { once: true });
        if (signal.aborted) stop();
        try {
          await proc.done;
        } finally {
          signal.removeEventListener('abort', stop);
        }
        return bytes;
      } finally {
        await this.revoke(marker);
        this.conn.close(); // the agent is lent no longer than the pull
      }
    };
  }
}
