/** `ops completion SHELL` and the hidden `ops __complete` its script calls at each TAB. */
import type { Command } from 'commander';
import { action, examples } from './command.js';

export function registerCompletionCommands(program: Command): void {
  examples(
    program
      .command('completion')
      .summary('print a shell completion script (bash, zsh, fish)')
      .description(
        "Prints a script that completes ops's commands and flags, and the repo's environments, hosts, roles and tasks as their values. The values are read from the repo's files at each TAB (never over SSH, nothing decrypted).",
      )
      .argument('<shell>', 'bash, zsh or fish')
      .action(
        action(async (ctx, args) => {
          const { completionScript } = await import('./complete.js');
          const script = completionScript(String(args[0])).trimEnd();
          if (ctx.opts.json) ctx.out.event('completion', { shell: String(args[0]) as 'bash' | 'zsh' | 'fish', script });
          else ctx.out.result(script, null);
        }),
      ),
    [
      'source <(ops completion bash)              # in ~/.bashrc',
      'source <(ops completion zsh)               # in ~/.zshrc, after compinit',
      'ops completion fish > ~/.config/fish/completions/ops.fish',
    ],
  );
  program
    .command('__complete', { hidden: true })
    .argument('[words...]')
    .allowUnknownOption()
    .action(async (words: string[]) => {
      const { completions } = await import('./complete.js');
      const out = completions(program, words.length === 0 ? [''] : words);
      if (out.length > 0) process.stdout.write(`${out.join('\n')}\n`);
    });
}
