/**
 * docs/commands.md is the --help of every command, generated from the command definitions:
 * this test makes it again and fails when the committed file differs (`npm run docs:commands`
 * writes it). It also holds every command's help to the same shape.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { commandsMarkdown, helpText, visibleCommands, visibleOptions } from '../../src/cli/reference.js';

const FILE = join(import.meta.dirname, '../../docs/commands.md');
const program = buildProgram('0.0.0-test');
const commands = visibleCommands(program);

describe('the command reference', () => {
  it('docs/commands.md is what the command definitions make', () => {
    const made = commandsMarkdown(program);
    if (process.env.OPS_UPDATE_DOCS === '1') writeFileSync(FILE, made);
    const committed = readFileSync(FILE, 'utf8');
    expect(committed === made, 'docs/commands.md differs from the command definitions: run `npm run docs:commands` and commit it').toBe(true);
  });

  it('walks every command, groups and their subcommands', () => {
    const paths = commands.map((c) => c.path.join(' '));
    for (const p of ['deploy', 'lab', 'lab up', 'lab snapshot save', 'db copy', 'pillar validate', 'tls renew', 'logs', 'task']) expect(paths).toContain(p);
    expect(paths.some((p) => p.startsWith('__'))).toBe(false);
  });

  it.each(commands.map((c) => [c.path.join(' '), c] as const))('ops %s: a summary, examples, the global options, defaults one way', (_name, { command }) => {
    const help = helpText(command);
    const flat = help.replace(/\s+/g, ' ');
    expect(command.summary() || command.description()).not.toBe('');
    expect(help).toMatch(/\nExamples:\n(  .*\n)*  \$ ops /);
    expect(help).toMatch(/\nGlobal Options:\n(.*\n)*  --json /);
    for (const o of visibleOptions(command)) {
      expect(o.description, o.flags).not.toMatch(/\(default [^:]/);
      if (o.defaultValue !== undefined && typeof o.defaultValue !== 'boolean') expect(flat).toContain(`(default: ${o.defaultValueDescription})`);
    }
    expect(help).not.toMatch(/default: "/);
  });
});
