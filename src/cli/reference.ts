/**
 * The command tree as data: every visible command with its path, and its --help text at a fixed
 * width. docs/commands.md, shell completion and the --json walk all read the tree from here, so
 * none of them can drift from the command definitions.
 */
import type { Command, Option } from 'commander';

export interface CommandEntry {
  /** e.g. ['lab', 'snapshot', 'save'] */
  path: string[];
  command: Command;
}

/** Every command that --help shows, depth first, in definition order (the program itself excluded). */
export function visibleCommands(program: Command): CommandEntry[] {
  const out: CommandEntry[] = [];
  const walk = (cmd: Command, path: string[]) => {
    for (const c of cmd.commands) {
      if ((c as unknown as { _hidden?: boolean })._hidden || c.name() === 'help') continue;
      const p = [...path, c.name()];
      out.push({ path: p, command: c });
      walk(c, p);
    }
  };
  walk(program, []);
  return out;
}

/** Options --help shows for a command (hidden and deprecated aliases left out). */
export function visibleOptions(cmd: Command): Option[] {
  return cmd.options.filter((o) => !o.hidden);
}

/** A command's whole --help text (examples included) at a fixed width, colour off. */
export function helpText(cmd: Command, width = 80): string {
  let text = '';
  // commands share one output configuration object: keep a copy of it, and put it back
  const saved = { ...cmd.configureOutput() };
  cmd.configureOutput({ writeOut: (s: string) => (text += s), getOutHelpWidth: () => width, getOutHasColors: () => false });
  try {
    cmd.outputHelp();
  } finally {
    cmd.configureOutput(saved);
  }
  return text;
}

/** docs/commands.md: the program's help, then each command's, in one Markdown file. */
export function commandsMarkdown(program: Command): string {
  const parts = [
    '# ops commands',
    '',
    'Generated from the command definitions (`npm run docs:commands`); a test fails when this file differs from them.',
    '',
    '## ops',
    '',
    '```text',
    helpText(program).trimEnd(),
    '```',
  ];
  for (const { path, command } of visibleCommands(program)) {
    parts.push('', `## ops ${path.join(' ')}`, '', '```text', helpText(command).trimEnd(), '```');
  }
  return `${parts.join('\n')}\n`;
}
