/**
 * Every `--json` event ops writes: its type, the commands that write it, and the schema of its
 * fields (besides `type` and `time`, which every event has). The catalogue is the one definition:
 * `Output.event` is typed by it (a type-only import: nothing here is loaded at run time),
 * docs/json.md is generated from it, and the tests check every event a run writes against it.
 */
import { z } from 'zod';

const str = z.string();
const int = z.number().int();
const num = z.number();
const bool = z.boolean();
const strs = z.array(z.string());
const orNull = <T extends z.ZodType>(t: T) => t.nullable();
const ms = int.min(0).describe('milliseconds');

export interface EventSpec<F extends z.ZodType = z.ZodType> {
  /** What one event of this type says. */
  about: string;
  /** The commands that write it. */
  commands: string[];
  fields: F;
}

const event = <F extends z.ZodType>(about: string, commands: string[], fields: F): EventSpec<F> => ({ about, commands, fields });
const fields = <S extends z.ZodRawShape>(shape: S) => z.strictObject(shape);

const hostDone = fields({
  host: str,
  status: z.enum(['ok', 'changed', 'failed', 'unreachable']),
  exit_code: orNull(int).optional().describe('ops run: the command\'s exit code (null when it ended by a signal or did not start)'),
  signal: orNull(str).optional().describe('ops run: the signal that ended the command'),
  error: orNull(str).optional().describe('why the host failed'),
  hint: orNull(str).optional().describe('deploy: what to do about an unreachable host'),
  ok: int.optional().describe('deploy: states already right'),
  changed: int.optional().describe('deploy: states changed'),
  failed: int.optional().describe('deploy: states that failed'),
  unknown: int.optional().describe('deploy --dry-run: states whose outcome cannot be known before an earlier one runs'),
  duration_ms: ms.optional(),
});

export const EVENTS = {
  error: event('The last event of a command that failed; the process exits with `exit_code`.', ['every command'], fields({
    message: str.describe('the one line stderr shows after `error:`'),
    where: orNull(str).describe('the place the error is about (a pillar error\'s `pillar/staging.yml:2:28`)'),
    hint: orNull(str).describe('what to do about it (stderr\'s `hint:` line)'),
    exit_code: int.describe('1 an operation failed · 2 bad usage, config or input · 130 interrupted'),
  })),
  value: event('A value you asked to see, the one output ops does not redact: only in its `value` field.', ['decrypt', 'generate-secret'], fields({
    env: str.optional().describe('decrypt'),
    name: str.optional().describe('decrypt: the value\'s name'),
    length: int.optional().describe('generate-secret'),
    value: str,
  })),
  encrypted: event('A value encrypted for an environment (the armored ciphertext is not secret).', ['encrypt', 'deploy-key'], fields({
    env: str,
    name: orNull(str).describe('the value\'s name (null for `--file` without one)'),
    file: orNull(str).describe('where it was written (`--write`: the pillar file; `--file`: the .asc file), else null'),
    ciphertext: str.describe('ASCII-armored OpenPGP message'),
    public_key: str.optional().describe('deploy-key: the public key file'),
    public_line: str.optional().describe('deploy-key: the public key, for the git host'),
  })),
  key: event('An environment\'s key pair was made.', ['keygen'], fields({
    env: str,
    fingerprint: str,
    public_key: str.describe('the public key file, relative to the repo'),
  })),
  rekeyed: event('Values re-encrypted to the environment\'s current recipients.', ['rekey'], fields({
    env: str,
    on_master: bool.describe('the master held the key (and made the new one)'),
    values: int.describe('how many values were re-encrypted'),
    files: strs.describe('the pillar files written'),
    fingerprint: str.describe('the environment key now'),
    keys: int.describe('how many keys each value is encrypted to (the environment key and the recovery keys)'),
  })),
  secret: event('One encrypted value and who it is encrypted to.', ['secrets audit'], fields({
    env: str,
    name: str,
    file: str,
    to: strs.describe('the recipients it is encrypted to, by label'),
    missing: strs.describe('listed recipients it is not encrypted to'),
    unknown: strs.describe('keys it is encrypted to that are not listed'),
    ok: bool,
  })),
  audit: event('The end of an audit.', ['secrets audit'], fields({
    env: str,
    values: int.describe('encrypted values read'),
    flagged: int.describe('values not encrypted to exactly the listed recipients'),
    recipients: z.array(fields({ label: str, fingerprint: str })).describe('the environment key, then the recovery keys'),
  })),
  init: event('The files `ops init` wrote, and what to run next.', ['init'], fields({
    dir: str,
    kind: z.enum(['django', 'procfile', 'command']),
    files: strs.describe('written, relative to `dir`'),
    next: strs.describe('the next commands to run'),
  })),
  imported: event('What `ops import salt` wrote (or would write), and its report.', ['import salt'], fields({
    from: str.describe('the conf/ folder read'),
    to: str.describe('the ops repo written'),
    envs: strs,
    files: strs.describe('relative to `to`'),
    report: strs.describe('one line per key or state not carried over, and what ops does instead'),
    dry_run: bool,
  })),
  pillar: event('An environment\'s merged pillar, encrypted values masked.', ['pillar show'], fields({ env: str, pillar: z.record(z.string(), z.unknown()) })),
  pillar_valid: event('An environment whose pillar is valid.', ['pillar validate'], fields({
    env: str,
    files: strs.describe('merged in this order'),
    servers: int,
  })),
  pillar_schema: event('The JSON Schema of a pillar file.', ['pillar schema'], fields({ schema: z.record(z.string(), z.unknown()) })),
  lab_host: event('A lab host and its state.', ['lab up', 'lab start', 'lab stop', 'lab kill', 'lab destroy', 'lab status'], fields({
    env: str,
    name: str,
    address: str,
    state: str.describe('running, stopped, …'),
    release: orNull(str).describe('the Debian release it runs'),
    roles: strs.optional().describe('lab status: its roles in the pillar'),
  })),
  lab_removed: event('The lab, or one env of it, was removed.', ['lab down'], fields({ envs: strs, hosts: int.describe('how many hosts were stopped') })),
  snapshot_saved: event('A lab snapshot was saved.', ['lab snapshot save'], fields({ name: str, envs: strs, hosts: strs })),
  snapshot: event('One lab snapshot.', ['lab snapshot list'], fields({
    name: str,
    envs: strs,
    hosts: strs,
    created: orNull(str),
    ops: orNull(str).describe('the ops version that made it'),
    size_kib: orNull(int),
    usable: bool,
    problem: orNull(str).describe('why it cannot be used'),
    in_use: int.describe('lab environments started from it'),
  })),
  snapshot_removed: event('A lab snapshot was removed.', ['lab snapshot rm'], fields({ name: str })),
  repo_served: event('The lab master serves the app\'s repo (and the pillar\'s repo.url points at it).', ['lab serve-repo'], fields({ env: str, host: str, url: str, branch: str, commit: str })),
  host_start: event('Work on a host begins.', ['run', 'manage-run', 'deploy', 'setup-minion', 'add-role', 'task'], fields({ host: str, roles: strs.optional().describe('deploy') })),
  output: event('One line a command printed on a host.', ['run', 'manage-run', 'task'], fields({ host: str, stream: z.enum(['stdout', 'stderr']), line: str })),
  host_done: event('Work on a host ended.', ['run', 'manage-run', 'deploy', 'logs', 'task'], hostDone),
  summary: event('The last event of a fan-out over hosts (the exit code is 1 when something failed).', ['run', 'manage-run', 'deploy', 'status'], z.union([
    fields({ hosts: int, ok: int, failed: int, unreachable: int, duration_ms: ms }).describe('run, manage-run'),
    fields({
      hosts: int,
      ok: int.describe('states already right'),
      changed: int,
      failed: int,
      unreachable: int,
      release: orNull(str).describe('the release event\'s status, null when no release ran'),
      hook_failed: bool,
      left_out: orNull(str).describe('the hosts a rolling release left out of the upstream, and why'),
      certificate_failed: bool,
      dry_run: bool,
      duration_ms: ms,
    }).describe('deploy, setup-minion, add-role'),
    fields({ hosts: int, unreachable: int, down: int.describe('enabled units that are not active'), health_ok: bool, ok: bool }).describe('status'),
  ])),
  state: event('One state of a converge on a host.', ['deploy', 'setup-minion', 'add-role', 'tls renew'], fields({
    host: str,
    id: str,
    status: z.enum(['ok', 'changed', 'failed', 'skipped', 'would-change', 'would-run', 'unknown']),
    summary: str,
    duration_ms: ms,
    diff: str.optional().describe('--dry-run: what would change in a file'),
    command: str.optional().describe('failed: the command'),
    exit_code: orNull(int).optional().describe('failed: its exit code'),
    stderr: str.optional().describe('failed: the end of its stderr'),
  })),
  lock: event('The environment\'s deploy lock: waiting for it, or taken over.', ['deploy', 'rollback'], fields({ message: str })),
  note: event('Something worth knowing that is not a failure.', ['deploy', 'logs'], fields({ message: str, host: str.optional() })),
  hook: event('A task run as a hook of a deploy.', ['deploy'], fields({
    point: str.describe('before-deploy, after-migrate, …'),
    hook: str.describe('the task, or the command'),
    status: z.enum(['would-run', 'start', 'ok', 'failed', 'skipped']),
    host: str.optional(),
    exit_code: orNull(int).optional(),
    output: str.optional().describe('the end of its output'),
    error: str.optional(),
    reason: str.optional().describe('skipped: why'),
    duration_ms: ms.optional(),
  })),
  hook_failed: event('A hook failed: the deploy stops there.', ['deploy'], fields({ point: str, error: str })),
  release: event('The outcome of the release of the app (or, with --dry-run, what it would do).', ['deploy'], fields({
    status: z.enum(['released', 'unchanged', 'failed', 'rolled-back', 'interrupted', 'skipped', 'would-release']),
    id: str.optional().describe('the release'),
    commit: str.optional(),
    branch: str.optional(),
    changed: int.optional(),
    migrations: strs.optional(),
    health: str.optional().describe('the health check asked, and its answer'),
    error: str.optional(),
    reason: str.optional().describe('skipped: why'),
    hosts: strs.optional(),
    live: strs.optional().describe('--dry-run: the releases serving now'),
    before_switch: strs.optional().describe('--dry-run: what runs before the switch'),
    batches: z.array(strs).optional().describe('--dry-run: the web hosts of each batch of a rolling release'),
    processes: str.optional(),
    dry_run: bool.optional(),
    duration_ms: ms.optional(),
  })),
  release_step: event('One step of a release.', ['deploy'], fields({
    step: z.enum(['fetch', 'build', 'built', 'migrate', 'migrated', 'release-phase', 'release-phase-done', 'switch', 'batch', 'switched', 'health', 'rollback', 'maintenance-on', 'maintenance-off', 'out-of-upstream', 'into-upstream', 'take-over', 'taken-over', 'handed-back']),
    id: str.optional(),
    url: str.optional(),
    branch: str.optional(),
    commit: str.optional(),
    host: str.optional(),
    hosts: z.union([int, strs]).optional().describe('build: how many; otherwise which'),
    migrations: strs.optional(),
    batch: int.optional(),
    of: int.optional(),
    via: str.optional().describe('health: balancer or web hosts'),
    balancers: strs.optional(),
    programs: strs.optional().describe("take-over, handed-back: supervisor's programs of a host margarita set up; taken-over: those disabled (and salt-minion)"),
  })),
  process: event('A process type of a Procfile app on a host.', ['deploy'], fields({
    host: str,
    process: str,
    status: z.enum(['running', 'restarted', 'removed', 'took-over']),
    count: int,
    instances: z.array(int).optional().describe('took-over: the new web instances'),
  })),
  tls: event('The environment\'s ACME certificate.', ['deploy', 'tls renew'], fields({
    status: z.enum(['valid', 'issued', 'renewed', 'failed', 'would-issue', 'would-renew', 'requesting', 'warning', 'skipped']),
    domain: orNull(str),
    names: strs.optional(),
    not_after: orNull(str).optional(),
    changed: int.optional().describe('files changed on the balancers'),
    error: str.optional(),
    reason: str.optional(),
    directory: str.optional().describe('requesting: the ACME directory'),
    host: str.optional(),
    fatal: bool.optional().describe('failed: whether the deploy fails with it'),
  })),
  provisioned: event('A host was set up as the master or a minion, or given roles.', ['setup-master', 'setup-minion', 'add-role'], fields({
    env: str,
    host: str,
    address: orNull(str),
    roles: strs,
    master: orNull(str).describe('the environment\'s master'),
    public_key: str.optional().describe('setup-master: the environment\'s public key file'),
  })),
  recovered: event('A new master holds the environment\'s key again.', ['setup-master --recover'], fields({
    env: str,
    master: str,
    address: str,
    fingerprint: str,
    values: int,
    lost: strs.describe('values to enter again'),
    minions_failed: strs,
  })),
  lost: event('A value the recovery key cannot decrypt.', ['setup-master --recover'], fields({ env: str, file: str, name: str, why: str })),
  minion: event('A minion told of the new master.', ['setup-master --recover'], fields({ host: str, ok: bool, error: str.optional() })),
  release_record: event('One release of the history, oldest first.', ['releases'], fields({
    env: str,
    id: str,
    commit: str,
    branch: str,
    inputs: str.describe('a digest of what the release was built from'),
    by: str,
    at: str,
    status: z.enum(['ok', 'failed', 'rolled-back', 'interrupted']),
    migrations: strs,
    hosts: strs,
    detail: str.optional(),
    health: str.optional(),
    live: bool.describe('the one serving'),
  })),
  rollback_record: event('One rollback of the history.', ['releases'], fields({ env: str, from: str.optional(), to: str, by: str, at: str })),
  rollback_step: event('A step of a rollback.', ['rollback'], fields({ step: z.literal('switch'), from: orNull(str), to: str })),
  rollback: event('The app serves the release rolled back to.', ['rollback'], fields({ from: orNull(str), to: str, health: str })),
  log: event('One journal entry (logs), or a task\'s log line.', ['logs', 'task'], z.union([
    fields({ host: str, unit: str, time: str.optional().describe('the entry\'s own time: it is the event\'s `time`'), priority: orNull(int).describe('syslog priority: 0 emerg … 7 debug'), message: str }).describe('logs'),
    fields({ level: z.enum(['info', 'warning']), message: str }).describe('task'),
  ])),
  host_status: event('One host\'s status.', ['status'], fields({
    host: str,
    reachable: bool,
    error: str.optional(),
    os: str.optional(),
    roles: strs,
    release: fields({ id: str, commit: str.optional(), by: str.optional(), at: str.optional() }).optional(),
    units: z.array(fields({ unit: str, active: str, enabled: str })),
    down: strs.describe('enabled units that are not active'),
    disk_used_pct: num.optional(),
    memory_used_pct: num.optional(),
    certificate_expires: str.optional(),
    maintenance: bool.optional(),
    drift: orNull(strs).optional().describe('--drift: the states that would change'),
    drift_error: orNull(str).optional(),
  })),
  health: event('The live release\'s health check, where it was asked.', ['status'], fields({ ok: bool, detail: str, via: str })),
  maintenance: event('A balancer\'s maintenance mode.', ['maintenance'], fields({ host: str, state: z.enum(['on', 'off']), ok: bool, error: orNull(str) })),
  task: event('One task of the repo.', ['task'], fields({
    name: str,
    description: str,
    file: str,
    on_master: bool,
    args: z.array(z.unknown()),
    options: z.record(z.string(), z.unknown()),
  })),
  task_start: event('A task begins.', ['task'], fields({ task: str, env: str, where: z.enum(['operator', 'master']), hosts: strs })),
  task_done: event('A task ended.', ['task'], fields({ task: str, exit_code: int, duration_ms: ms })),
  result: event('A task\'s result text.', ['task'], fields({ message: str })),
  task_event: event('An event of the task\'s own (`t.event(name, data)`).', ['task'], fields({ task: str, name: str, data: z.record(z.string(), z.unknown()) })),
  progress: event('Bytes moved so far by a long copy.', ['db copy', 'db backup', 'db restore', 'prod-db-to-staging', 'reset-local-db'], fields({ what: str, bytes: int })),
  stream: event('A copy\'s stream ended.', ['db copy', 'db backup', 'db restore', 'prod-db-to-staging', 'reset-local-db'], fields({ what: str, bytes: int, seconds: num })),
  compression: event('The compression level chosen for the link.', ['db copy', 'prod-db-to-staging'], fields({ link_mb_per_s: num, level: z.union([int, z.literal('default')]) })),
  swapped: event('The copied database replaced the live one.', ['db copy', 'db restore', 'prod-db-to-staging', 'reset-local-db'], fields({ host: str, database: str, kept: orNull(str).describe('the name the replaced one is kept under') })),
  db_done: event('The end of a database copy, backup, restore or undo.', ['db copy', 'db backup', 'db restore', 'db undo-copy', 'prod-db-to-staging', 'reset-local-db'], fields({
    action: z.enum(['copy', 'backup', 'restore', 'undo-copy']),
    from: str.optional().describe('copy: the source environment'),
    env: str.describe('the environment whose database it is (local for reset-local-db)'),
    database: str,
    host: orNull(str).describe('the db host (null for this machine)'),
    file: str.optional().describe('backup, restore: the file'),
    kept: orNull(str).optional().describe('the name the replaced database is kept under'),
  })),
  completion: event('A shell\'s completion script.', ['completion'], fields({ shell: z.enum(['bash', 'zsh', 'fish']), script: str })),
} satisfies Record<string, EventSpec>;

export type EventType = keyof typeof EVENTS;
/** The fields of an event of type T (as given to `Output.event`). */
export type EventData<T extends EventType> = z.input<(typeof EVENTS)[T]['fields']>;
/** What writes an event of the catalogue (`Output.event`, or a function that passes it on). */
export type EmitEvent = <T extends EventType>(type: T, data: EventData<T>) => void;
