/** A command guarded by `creates`, `unless` or `onlyif` (the guards are read-only checks). */
import type { RemoteCommand } from '../../ssh/command.js';
import type { Plan, StateKind } from '../types.js';
import { kv, q } from '../facts-format.js';

export interface CmdParams {
  run: RemoteCommand;
  /** Secrets for the command, on its stdin. */
  stdin?: Buffer;
  user?: string;
  creates?: string;
  /** A read-only shell check: skip the command when it succeeds. */
  unless?: string;
  /** A read-only shell check: run the command only when it succeeds. */
  onlyif?: string;
  describe: string;
}

export const cmd: StateKind<CmdParams> = {
  facts(p) {
    const parts: string[] = [];
    if (p.creates) parts.push(`[ -e ${q(p.creates)} ] && echo creates=1`);
    if (p.unless) parts.push(`( ${p.unless} ) >/dev/null 2>&1 && echo unless=1`);
    if (p.onlyif) parts.push(`( ${p.onlyif} ) >/dev/null 2>&1 || echo onlyif=0`);
    return parts.length > 0 ? `${parts.join('; ')}; true` : 'true';
  },
  plan(p, f): Plan {
    const facts = kv(f.out);
    if (facts.creates === '1') return { status: 'ok', summary: `${p.creates} exists`, steps: [] };
    if (facts.unless === '1') return { status: 'ok', summary: 'already done', steps: [] };
    if (facts.onlyif === '0') return { status: 'ok', summary: 'not needed', steps: [] };
    return { status: 'change', summary: p.describe, steps: [{ run: p.run, stdin: p.stdin, user: p.user, describe: p.describe }] };
  },
};
