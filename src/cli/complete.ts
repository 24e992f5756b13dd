/**
 * Shell completion: `ops completion bash|zsh|fish` prints a script, and the script asks
 * `ops __complete WORDS…` for the candidates at each TAB. Commands and flags come from the
 * command definitions; environments, hosts, roles and tasks from the repo's files, read
 * leniently (a pillar with an error still completes) — never over SSH, never decrypted.
 */
import type { Command, Option } from 'commander';
import { UsageError } from '../errors.js';
import { environmentFiles, listEnvironments, readDefaultEnvironment } from '../pillar/files.js';
import { deepMerge } from '../pillar/merge.js';
import { BUILTIN_ROLES } from '../pillar/roles.js';
import { loadPillarFile } from '../pillar/source.js';
import { findRepo, type Repo } from '../repo.js';
import { taskFiles } from '../tasks/load.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;

/** What a candidate may look like: names of commands, flags, environments, hosts, roles, tasks, role lists. */
const CANDIDATE_RE = /^-{0,2}[A-Za-z0-9][A-Za-z0-9_.,-]{0,200}$/;

/** What a value of this argument or option is, by its name in the definitions. */
type Kind = 'env' | 'host' | 'role' | 'roles' | 'target' | 'task' | 'shell' | 'state' | 'other';

const ARGUMENT_KINDS: Record<string, Kind> = { env: 'env', role: 'role', roles: 'roles', target: 'target', name: 'task', 'from-env': 'env', 'to-env': 'env', shell: 'shell', state: 'state' };
const OPTION_KINDS: Record<string, Kind> = { '--env': 'env', '--role': 'role', '--host': 'host', '--only': 'target' };

interface RepoFacts {
  envs: string[];
  /** every server's name, with its roles, per environment */
  servers: Map<string, { name: string; roles: string[] }[]>;
  customRoles: string[];
  tasks: string[];
}

function readRepo(root: string | undefined): RepoFacts {
  const facts: RepoFacts = { envs: [], servers: new Map(), customRoles: [], tasks: [] };
  let repo: Repo;
  try {
    repo = findRepo(root);
  } catch {
    return facts;
  }
  facts.envs = listEnvironments(repo);
  const roles = new Set<string>();
  for (const env of facts.envs) {
    try {
      let raw: Record<string, unknown> = {};
      for (const f of environmentFiles(repo, env)) raw = deepMerge(raw, loadPillarFile(f, repo.root).value);
      const servers = isRecord(raw.servers) ? raw.servers : {};
      facts.servers.set(
        env,
        Object.entries(servers).map(([name, s]) => ({ name, roles: isRecord(s) && Array.isArray(s.roles) ? s.roles.filter((r): r is string => typeof r === 'string') : [] })),
      );
      if (isRecord(raw.roles)) for (const r of Object.keys(raw.roles)) roles.add(r);
    } catch {
      // a file that does not parse completes nothing of its own
    }
  }
  facts.customRoles = [...roles];
  try {
    facts.tasks = taskFiles(repo).map((t) => t.name);
  } catch {
    // a badly named task file: no task names
  }
  if (facts.envs.length > 0) {
    try {
      const d = readDefaultEnvironment(repo);
      if (d) facts.envs = [d, ...facts.envs.filter((e) => e !== d)];
    } catch {
      // leniently
    }
  }
  return facts;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function takesValue(o: Option): boolean {
  return o.required || o.optional;
}

function findOption(cmd: Command, program: Command, word: string): Option | undefined {
  const flag = word.split('=')[0];
  return [...cmd.options, ...program.options].find((o) => o.long === flag || o.short === flag);
}

/**
 * The candidates for the last word of `words` (the words after `ops`, the last one being the word
 * under the cursor, possibly empty).
 */
export function completions(program: Command, words: string[]): string[] {
  const cur = words[words.length - 1] ?? '';
  const before = words.slice(0, -1);
  let cmd = program;
  let position = 0;
  let env: string | undefined;
  let root: string | undefined;
  let pendingOption: Option | undefined;
  for (let i = 0; i < before.length; i++) {
    const w = before[i] as string;
    if (pendingOption) {
      if (pendingOption.long === '--env') env = w;
      if (pendingOption.long === '--root') root = w;
      pendingOption = undefined;
      continue;
    }
    if (w === '--') return []; // what follows is the user's own command line
    if (w.startsWith('-') && w.length > 1) {
      const o = findOption(cmd, program, w);
      if (o && o.required && !w.includes('=')) pendingOption = o;
      continue;
    }
    const sub = cmd.commands.find((c) => c.name() === w || c.aliases().includes(w));
    if (sub && position === 0) {
      cmd = sub;
      continue;
    }
    const arg = cmd.registeredArguments[Math.min(position, cmd.registeredArguments.length - 1)];
    if (arg?.name() === 'env' || arg?.name() === 'from-env') env ??= w;
    position++;
  }
  const facts = () => readRepo(root);
  // only words that can be values (a pillar's odd keys are never offered: not a newline, not a glob)
  const filter = (xs: string[]) => [...new Set(xs)].filter((x) => CANDIDATE_RE.test(x) && x.startsWith(cur));

  if (pendingOption) return filter(pendingOption.argChoices ?? values(OPTION_KINDS[pendingOption.long ?? ''] ?? 'other', facts(), env, cur));
  if (cur.startsWith('-')) {
    const opts = [...cmd.options, ...(cmd === program ? [] : program.options)].filter((o) => !o.hidden);
    return filter([...opts.flatMap((o) => [o.long, o.short].filter((f): f is string => f !== undefined)), '--help']);
  }
  const visible = cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden && c.name() !== 'help');
  if (visible.length > 0 && position === 0) return filter(visible.map((c) => c.name()));
  const args = cmd.registeredArguments;
  const arg = args.length === 0 ? undefined : position < args.length ? args[position] : args[args.length - 1]?.variadic ? args[args.length - 1] : undefined;
  if (!arg) return [];
  if (arg.argChoices) return filter(arg.argChoices);
  const kind = ARGUMENT_KINDS[arg.name()] ?? 'other';
  // `ops task NAME [env] …`: after the task's name come the env and the task's own words
  if (cmd.name() === 'task' && position > 0) return filter(position === 1 ? facts().envs : []);
  return filter(values(kind, facts(), env, cur));
}

function values(kind: Kind, facts: RepoFacts, env: string | undefined, cur: string): string[] {
  // the hosts of the environment on the line; of every environment when none is named yet
  const servers = env !== undefined && facts.envs.includes(env) ? (facts.servers.get(env) ?? []) : [...facts.servers.values()].flat();
  const roles = [...BUILTIN_ROLES, ...facts.customRoles];
  switch (kind) {
    case 'env':
      return facts.envs;
    case 'host':
      return servers.map((s) => s.name);
    case 'role':
      return roles;
    case 'roles': {
      // a comma-separated list: complete its last item, keep what comes before
      const head = cur.includes(',') ? cur.slice(0, cur.lastIndexOf(',') + 1) : '';
      const chosen = new Set(head.split(',').filter(Boolean));
      return roles.filter((r) => !chosen.has(r)).map((r) => head + r);
    }
    case 'target':
      return [...servers.map((s) => s.name), ...new Set(servers.flatMap((s) => s.roles))];
    case 'task':
      return facts.tasks;
    case 'shell':
      return [...SHELLS];
    case 'state':
      return ['on', 'off'];
    default:
      return [];
  }
}

/** The script for a shell: it hands the words to `ops __complete` and offers what comes back. */
export function completionScript(shell: string): string {
  switch (shell) {
    case 'bash':
      return `# ops completion for bash: add to ~/.bashrc
#   source <(ops completion bash)
_ops_complete() {
  mapfile -t COMPREPLY < <(ops __complete -- "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)
}
complete -o default -F _ops_complete ops
`;
    case 'zsh':
      return `#compdef ops
# ops completion for zsh: add to ~/.zshrc (after compinit)
#   source <(ops completion zsh)
_ops() {
  local -a candidates
  candidates=("\${(@f)$(ops __complete -- "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  candidates=("\${(@)candidates:#}")
  if (( \${#candidates} )); then compadd -- "\${(@)candidates}"; else _files; fi
}
compdef _ops ops
`;
    case 'fish':
      return `# ops completion for fish: save as ~/.config/fish/completions/ops.fish
#   ops completion fish > ~/.config/fish/completions/ops.fish
function __ops_complete
    set -l words (commandline -opc)
    set -e words[1]
    ops __complete -- $words (commandline -ct) 2>/dev/null
end
complete -c ops -f -a '(__ops_complete)'
`;
    default:
      throw new UsageError(`ops completion takes one of ${SHELLS.join(', ')}, got '${shell}'`);
  }
}
