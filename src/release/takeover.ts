/**
 * Taking over an app host that margarita (the Caktus template's Salt states) set up: supervisor
 * runs the app's gunicorn and Celery from a git checkout in /var/www/<project>/source, and
 * `salt-minion` runs beside them. ops's first release there is built from the commit that checkout
 * is at; at the switch, ops's app server takes the port from supervisor's (new connections wait,
 * never refused: their SYNs are dropped for those seconds and retransmitted by the client's
 * kernel); once the release passes its health check, supervisor's programs of the app are
 * disabled (their files renamed, kept) and salt-minion is stopped and disabled. A release that
 * fails first hands the port back to supervisor's programs.
 */
import type { Pillar } from '../pillar/schema.js';
import { appPaths, appUnits } from '../roles/app.js';
import { quote } from '../ssh/quote.js';

export const SUPERVISOR_DIR = '/etc/supervisor/conf.d';
/** What a supervisor file of the app becomes once ops serves: supervisord reads only `*.conf` there. */
export const TAKEN_OVER = '.taken-over-by-ops';
const HOLD_TABLE = 'ops_takeover';

export interface Program {
  name: string;
  /** web: an app server (gunicorn, uwsgi); worker: Celery; other: left running, named. */
  kind: 'web' | 'worker' | 'other';
  file: string;
}

export interface Takeover {
  programs: Program[];
  /** The commit the app's checkout (source/) is at, when it is one (40 hex digits). */
  commit?: string;
  /** salt-minion.service is enabled or running. */
  salt: boolean;
}

/**
 * The checkout's commit, read as the checkout's owner (never as root: the app user writes
 * source/.git, so a link there must not make root read another file), every file it opens a
 * regular file inside the real .git folder (no FIFO, no link out of it), at most a bounded number
 * of bytes of each, and the whole read limited to 10 s. Prints `commit TEXT` or nothing.
 */
export function commitFacts(git: string): string {
  const read = [
    "g=$1; real=$(realpath -e -- \"$g\") || exit 0",
    "inside() { p=$(realpath -e -- \"$1\" 2>/dev/null) || return 1; case \"$p\" in \"$real\"/*) [ -f \"$p\" ] && [ -r \"$p\" ];; *) return 1;; esac; }",
    "inside \"$g/HEAD\" || exit 0",
    "head=$(head -c 300 -- \"$g/HEAD\" | head -n 1)",
    "case \"$head\" in",
    "  \"ref: refs/heads/\"*) ref=${head#ref: }",
    "    case \"$ref\" in *..*) exit 0;; esac",
    "    if inside \"$g/$ref\"; then printf \"commit %s\\n\" \"$(head -c 80 -- \"$g/$ref\" | head -n 1)\"",
    "    elif inside \"$g/packed-refs\"; then head -c 1048576 -- \"$g/packed-refs\" | r=\"$ref\" awk '$2 == ENVIRON[\"r\"] { print \"commit \" $1; exit }'; fi;;",
    "  *) printf \"commit %s\\n\" \"$head\";;",
    "esac",
  ].join('\n');
  return [
    `g=${quote(git)}`,
    // (.git and source/ themselves no links: a link would make "inside" mean somewhere else)
    'if [ -d "$g" ] && [ ! -L "$g" ] && [ ! -L "${g%/.git}" ]; then',
    '  owner=$(stat -c %U -- "$g")',
    `  if [ "$owner" = root ]; then timeout 10 sh -c ${quote(read)} sh "$g"; else timeout 10 runuser -u "$owner" -- sh -c ${quote(read)} sh "$g"; fi 2>/dev/null`,
    'fi',
  ].join('\n');
}

/**
 * Shell text (run as root, no git run: the checkout's files are read as text) printing what of a
 * margarita setup a host has: `file F`, `program NAME`, `command TEXT` lines of each supervisor
 * file that runs something under the app's directory, `commit ID` of source/ (while no release of
 * ops's is live), `salt` (enabled or running).
 */
export function takeoverFacts(pillar: Pick<Pillar, 'project'>): string {
  const root = appPaths(pillar).root;
  return [
    `for f in ${SUPERVISOR_DIR}/*.conf; do [ -f "$f" ] && grep -qF -- ${quote(`${root}/`)} "$f" || continue; printf 'file %s\\n' "$f"; sed -n -e 's/^[[:space:]]*\\[program:\\([^]]*\\)\\].*/program \\1/p' -e 's/^[[:space:]]*command[[:space:]]*=[[:space:]]*/command /p' "$f"; done`,
    // (the commit only where no release of ops's is live: the first release is the only one it pins)
    `if [ ! -L ${quote(appPaths(pillar).current)} ]; then`,
    commitFacts(`${root}/source/.git`),
    'fi',
    `{ systemctl is-enabled --quiet salt-minion.service || systemctl is-active --quiet salt-minion.service; } 2>/dev/null && echo salt`,
    'true',
  ].join('\n');
}

/**
 * What a supervisor program of the app is, from its command: an app server when one of its words
 * is a gunicorn or uwsgi program (`…/env/bin/gunicorn`, `python -m gunicorn`), Celery when one is
 * celery and its subcommand is worker or beat; anything else (a log shipper, flower, an exporter)
 * is left running. A command that does not run from the app's directory is not the app's.
 */
function kindOf(command: string, root: string): Program['kind'] {
  if (!command.includes(`${root}/`)) return 'other';
  const words = command.split(/\s+/).filter(Boolean);
  const base = (w: string) => w.slice(w.lastIndexOf('/') + 1);
  if (words.some((w) => base(w) === 'gunicorn' || base(w) === 'uwsgi')) return 'web';
  const celery = words.findIndex((w) => base(w) === 'celery');
  if (celery >= 0 && words.slice(celery + 1).some((w) => w === 'worker' || w === 'beat')) return 'worker';
  return 'other';
}

/** Reads takeoverFacts' output; undefined when the host has nothing of margarita's. */
export function parseTakeover(out: string, pillar: Pick<Pillar, 'project'>): Takeover | undefined {
  const root = appPaths(pillar).root;
  const programs: Program[] = [];
  let file = '';
  let pending: string[] = [];
  let commit: string | undefined;
  let salt = false;
  const flush = (command: string) => {
    for (const name of pending) programs.push({ name, kind: kindOf(command, root), file });
    pending = [];
  };
  for (const line of out.split('\n')) {
    const [what = '', ...rest] = line.split(' ');
    const value = rest.join(' ');
    if (what === 'file') {
      flush('');
      // (a name supervisor's include would not read is not one of its files: its programs are dropped)
      file = /^\/etc\/supervisor\/conf\.d\/[A-Za-z0-9_.@+-]+\.conf$/.test(value) ? value : '';
    } else if (what === 'program' && file && /^[A-Za-z0-9_.:@+-]+$/.test(value)) {
      flush('');
      pending.push(value);
    } else if (what === 'command') flush(value);
    else if (what === 'commit' && /^[0-9a-f]{40}$/.test(value.trim())) commit = value.trim();
    else if (what === 'salt') salt = true;
  }
  flush('');
  if (programs.length === 0 && !salt) return undefined;
  return { programs, commit, salt };
}

const names = (ps: Program[]) => ps.map((p) => quote(p.name)).join(' ');

/** Holding new connections to the app's port (their SYNs dropped: clients retry in 1 s, 3 s, …), and letting them go. */
function hold(port: number): string[] {
  return [
    `nft -f - <<'OPS_HOLD'\ntable inet ${HOLD_TABLE} {\n  chain hold {\n    type filter hook input priority -10; policy accept;\n    tcp dport ${port} tcp flags & (fin|syn|rst|ack) == syn drop\n  }\n}\nOPS_HOLD`,
    `trap 'nft delete table inet ${HOLD_TABLE} 2>/dev/null || true' EXIT`,
    // what the old server has accepted already is answered before it stops
    'sleep 0.5',
  ];
}

/** Waits (up to 60 s) until something listens on the TCP port (read from /proc: no tool needed); `fail` runs when nothing does. */
function untilListening(port: number, fail: string): string {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return `i=0; until awk '$4 == "0A" && $2 ~ /:${hex}$/ { found = 1 } END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null; do i=$((i+1)); if [ $i -gt 240 ]; then ${fail}; fi; sleep 0.25; done`;
}

/**
 * The switch's lines (after `current` moved) for a host supervisor serves from, given its app
 * programs: its web programs stop and ops's web unit starts (`start`, shell text) while new
 * connections wait; when ops's unit does not come up, supervisor's programs start again and the
 * script fails. No lines when supervisor runs no app server there.
 */
export function takeOverWeb(pillar: Pillar, programs: Program[], start: string): string[] {
  const port = pillar.app.port;
  const web = programs.filter((p) => p.kind === 'web');
  if (web.length === 0) return [];
  const back = `{ systemctl disable --now --quiet ${appUnits(pillar).web} || true; supervisorctl start ${names(web)} >/dev/null || true; echo ${quote(`ops's app server did not come up; supervisor's ${web.map((p) => p.name).join(', ')} serve again`)} >&2; exit 5; }`;
  return [
    '(',
    ...hold(port),
    // (a program that is not running is fine: supervisorctl says so)
    `supervisorctl stop ${names(web)} >/dev/null || true`,
    `( ${start} ) || ${back}`,
    untilListening(port, back),
    ')',
  ];
}

/** supervisor's Celery programs stop, before ops's worker units start. */
export function stopSupervisedWorkers(programs: Program[]): string[] {
  const workers = programs.filter((p) => p.kind === 'worker');
  return workers.length > 0 ? [`supervisorctl stop ${names(workers)} >/dev/null || true`] : [];
}

/**
 * A release that failed on a host supervisor served before ops: ops's units stop, supervisor's
 * programs start again (new connections wait meanwhile), `current` goes — the next deploy takes
 * over from the checkout's commit again.
 */
export function handBackScript(pillar: Pillar, t: Takeover): string {
  const port = pillar.app.port;
  const units = appUnits(pillar);
  const web = t.programs.filter((p) => p.kind === 'web');
  const workers = t.programs.filter((p) => p.kind === 'worker');
  const lines = ['set -e', ...(web.length > 0 ? hold(port) : [])];
  lines.push(`for u in ${units.web} ${units.worker} ${units.beat}; do systemctl disable --now --quiet "$u" 2>/dev/null || true; done`);
  if (t.programs.some((p) => p.kind !== 'other')) lines.push(`supervisorctl start ${names([...web, ...workers])} >/dev/null || true`);
  if (web.length > 0) lines.push(untilListening(port, `{ echo ${quote(`supervisor's ${web.map((p) => p.name).join(', ')} did not listen on ${port} again`)} >&2; exit 5; }`));
  lines.push(`rm -f ${quote(appPaths(pillar).current)}`);
  return lines.join('\n');
}

/**
 * Once ops's release serves: supervisor's files of the app are renamed (kept) and supervisor
 * forgets their programs; salt-minion stops and is disabled. A file that also runs something ops
 * does not (neither an app server nor Celery) stays as it is.
 */
export function finalizeScript(t: Takeover): { script: string; disabled: Program[]; kept: Program[] } {
  const files = [...new Set(t.programs.map((p) => p.file))];
  const left = t.programs.filter((p) => files.includes(p.file) && t.programs.some((o) => o.file === p.file && o.kind === 'other'));
  const taken = files.filter((f) => !left.some((p) => p.file === f));
  const lines = ['set -e'];
  for (const f of taken) lines.push(`mv -f -- ${quote(f)} ${quote(`${f}${TAKEN_OVER}`)}`);
  if (taken.length > 0) lines.push('supervisorctl reread >/dev/null', 'supervisorctl update >/dev/null');
  if (t.salt) lines.push('systemctl disable --now --quiet salt-minion.service');
  // app programs of a kept file: stopped now, but supervisor starts them again when it next starts
  const kept = t.programs.filter((p) => p.kind !== 'other' && !taken.includes(p.file));
  return { script: lines.join('\n'), disabled: t.programs.filter((p) => taken.includes(p.file)), kept };
}
