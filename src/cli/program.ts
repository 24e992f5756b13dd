/**
 * The `ops` command tree. Each command group lives in its own file and only parses,
 * calls into the core and prints.
 */
import { Command, CommanderError, Option } from 'commander';
import { errorMessage, isOpsError } from '../errors.js';
import { Output } from '../ui/output.js';
import { redactor } from '../ui/redact.js';
import { exitState } from './command.js';
import { registerSecretCommands } from './secrets.js';
import { registerPillarCommands } from './pillar.js';
import { registerLabCommands } from './lab.js';
import { registerRemoteCommands } from './remote.js';
import { registerProvisionCommands } from './provision.js';
import { registerReleaseCommands } from './release.js';
import { registerTlsCommands } from './tls.js';
import { registerDbCommands } from './db.js';
import { registerInternalCommands } from './internal.js';
import { registerTaskCommand } from './task.js';
import { registerDayTwoCommands } from './daytwo.js';
import { registerCompletionCommands } from './completion.js';
import { registerInitCommand } from './init.js';

export function buildProgram(version: string): Command {
  const program = new Command('ops');
  program
    .description('Provision, converge and deploy web apps on your own Debian/Ubuntu servers over SSH.')
    .version(version, '-V, --version', 'print the ops version')
    .addOption(new Option('-e, --env <name>', 'environment (else first argument, OPS_ENV, default_environment)'))
    .addOption(new Option('--root <dir>', 'ops repo root (else OPS_ROOT, else the first folder up with pillar/)'))
    .addOption(new Option('--json', 'machine-readable NDJSON events on stdout'))
    .addOption(new Option('--no-color', 'no colour (also when NO_COLOR is set or output is not a terminal)'))
    .addOption(new Option('--debug', 'show stack traces for errors'))
    .showSuggestionAfterError(true)
    .helpCommand('help [command]', 'show help for a command')
    // every command's help lists -e, --root, --json, … too (inherited by the commands made below)
    .configureHelp({ showGlobalOptions: true })
    .exitOverride();

  registerInitCommand(program);
  registerSecretCommands(program);
  registerPillarCommands(program);
  registerLabCommands(program);
  registerRemoteCommands(program);
  registerProvisionCommands(program);
  registerReleaseCommands(program);
  registerDbCommands(program);
  registerTlsCommands(program);
  registerDayTwoCommands(program);
  registerTaskCommand(program);
  registerCompletionCommands(program);
  registerInternalCommands(program);

  program.addHelpText(
    'after',
    `
Environment: a first argument naming pillar/<env>.yml, else -e/--env, OPS_ENV, or
default_environment in pillar/project.yml.
Exit codes: 0 ok · 1 an operation failed · 2 bad usage, config or input · 130 interrupted.

Examples:
  $ ops lab up && ops setup-master lab -H lab-1
  $ ops encrypt staging SECRET_KEY --generate 64 --write
  $ ops deploy staging
  $ ops run production --role web -- 'uptime'
`,
  );
  // Subcommands report usage errors through exitOverride as well.
  for (const c of program.commands) finishCommand(c);
  return program;
}

function finishCommand(cmd: Command): void {
  cmd.exitOverride();
  cmd.showSuggestionAfterError(true);
  // defaults read one way in every help: "(default: 10)", as the hand-written ones are
  for (const o of cmd.options) {
    if (o.defaultValueDescription === undefined && (typeof o.defaultValue === 'string' || typeof o.defaultValue === 'number')) o.defaultValueDescription = String(o.defaultValue);
  }
  for (const c of cmd.commands) finishCommand(c);
}

export async function runCli(argv: string[], version: string): Promise<number> {
  const program = buildProgram(version);
  const debug = argv.includes('--debug');
  const json = argv.includes('--json');
  try {
    await program.parseAsync(argv);
    return exitState.code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      // commander has already printed its message (the human line, on stderr)
      new Output({ json }).event('error', { message: e.message.replace(/^error: /, ''), where: null, hint: null, exit_code: 2 });
      return 2;
    }
    const out = new Output({ json });
    if (isOpsError(e)) {
      out.error(e.message);
      if (e.hint) out.info(`  hint: ${e.hint}`);
      if (debug && e.stack) out.info(redactor.redact(e.stack));
      out.event('error', { message: e.message, where: e.where ?? null, hint: e.hint ?? null, exit_code: e.exitCode });
      return e.exitCode;
    }
    out.error(`unexpected failure: ${errorMessage(e)}`);
    if (debug && e instanceof Error && e.stack) out.info(e.stack);
    else out.info('  (run again with --debug for details)');
    out.event('error', { message: `unexpected failure: ${errorMessage(e)}`, where: null, hint: 'run again with --debug for details', exit_code: 1 });
    return 1;
  }
}
