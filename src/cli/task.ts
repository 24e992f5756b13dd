/** `ops task`: the project's own tasks (files in tasks/), listed, explained and run. */
import { Command, InvalidArgumentError, Option, CommanderError } from 'commander';
import { action, examples } from './command.js';

let builtinCommands: () => ReadonlySet<string> = () => new Set();

/** The names of ops's own commands (a task may not take one). */
export function builtinNames(): ReadonlySet<string> {
  return builtinCommands();
}

export function registerTaskCommand(program: Command): void {
  const builtins = () => new Set(program.commands.flatMap((c) => [c.name(), ...c.aliases()]));
  builtinCommands = builtins;
  const task: Command = program.command('task');
  examples(
    task
      .summary("list the project's tasks (tasks/*.ts), or run one")
      .description(
        "Without a name, lists the tasks of the repo's tasks/ folder. With one, runs it on an environment: `ops task NAME [env] [args…] [--options]`. A task is a TypeScript (or JavaScript) file exporting defineTask({...}) — see README, \"Tasks and hooks\". A task that declares secrets runs on the environment's master, where the key is. `ops task NAME --help` shows a task's arguments and options.",
      )
      .argument('[name]', 'the task')
      .argument('[words...]', 'environment, then the task’s arguments and options')
      .helpOption(false)
      .allowUnknownOption(true)
      .allowExcessArguments(true)
      .action(
        action(async (ctx, args) => {
          const { listTasks, runTask } = await import('./actions/task.js');
          const [name, ...rest] = args;
          if (name === '--help' || name === '-h') task.outputHelp();
          if (name === undefined || name === '--help' || name === '-h') return listTasks(ctx, name !== undefined);
          return runTask(ctx, name, rest, builtins());
        }),
      ),
    ['ops task', 'ops task add-swap --help', 'ops task add-swap staging 1G --role web', 'ops task db-dump production --out prod.dump'],
  );
}

/** The command line of one task, for parsing its words and for its --help. */
export function taskCommand(def: { name: string; description: string; args?: readonly { name: string; description?: string; required?: boolean; default?: string; variadic?: boolean; choices?: readonly string[] }[]; options?: Readonly<Record<string, { type: string; description?: string; default?: unknown; short?: string; choices?: readonly string[]; required?: boolean }>>; secrets?: readonly string[] }): Command {
  const cmd = new Command(`ops task ${def.name}`);
  cmd
    .usage('[env] ' + [...(def.args ?? []).map((a) => (a.required ? `<${a.name}${a.variadic ? '...' : ''}>` : `[${a.name}${a.variadic ? '...' : ''}]`)), '[options]'].join(' '))
    .description(`${def.description}${def.secrets?.length ? `\n\nRuns on the environment's master (it reads the secrets ${def.secrets.join(', ')}).` : ''}`)
    .exitOverride()
    .showHelpAfterError(`(ops task ${def.name} --help shows its usage)`)
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) });
  for (const a of def.args ?? []) {
    const spec = a.required ? `<${a.name}${a.variadic ? '...' : ''}>` : `[${a.name}${a.variadic ? '...' : ''}]`;
    const arg = cmd.createArgument(spec, a.description ?? '');
    if (a.default !== undefined) arg.default(a.default);
    if (a.choices) arg.choices(a.choices);
    cmd.addArgument(arg);
  }
  for (const [name, o] of Object.entries(def.options ?? {})) {
    const flags = `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'boolean' ? '' : ` <${o.type === 'number' ? 'n' : 'value'}>`}`;
    const opt = new Option(flags, o.description ?? '');
    if (o.default !== undefined) opt.default(o.default);
    if (o.choices) opt.choices(o.choices);
    if (o.required) opt.makeOptionMandatory(true);
    if (o.type === 'number') {
      opt.argParser((v: string) => {
        const n = Number(v);
        if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('not a number');
        return n;
      });
    }
    cmd.addOption(opt);
  }
  cmd
    .option('--role <role>', 'only hosts with this role')
    .option('--host <name|address>', 'only this host')
    .option('--parallel <n>', 'hosts at once for t.each()', '32')
    .option('-y, --yes', 'answer yes to the task’s questions')
    .option('-u, --user <user>', "log in as this user (else OPS_USER, the server's user, your user name)")
    .option('-i, --identity <file>', 'private key file (repeatable; ssh-agent is used too)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--connect-timeout <seconds>', 'give up on a host that does not answer', '10')
    .option('--accept-new', 'pin the host key of hosts not seen before (never a changed one)')
    .helpOption('-h, --help', 'show this task’s arguments and options');
  cmd.action(() => undefined);
  return cmd;
}

export { CommanderError };
