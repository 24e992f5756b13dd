/**
 * Reads the facts of many states in one round trip: one script runs every state's read-only
 * snippet, each framed by markers that carry a per-run nonce (so no fact can forge a frame).
 */
import { randomBytes } from 'node:crypto';
import { KINDS } from './kinds/index.js';
import type { FactResult, State } from './types.js';

export interface FactBatch {
  script: string;
  parse(out: string): FactResult[];
}

export function factBatch(states: readonly State[]): FactBatch {
  const nonce = randomBytes(6).toString('hex');
  const parts = states.map((s, i) => {
    const kind = KINDS[s.kind];
    if (!kind) throw new Error(`unknown state kind '${s.kind}' (state ${s.id})`);
    const snippet = kind.facts(s.params as never);
    return `printf '\\n@@%s %d@@\\n' ${nonce} ${i}\n( ${snippet}\n) 2>/dev/null\nprintf '\\n@@%s %d end %d@@\\n' ${nonce} ${i} $?`;
  });
  return {
    script: `export LC_ALL=C\n${parts.join('\n')}\n`,
    parse(out: string): FactResult[] {
      const results: FactResult[] = states.map(() => ({ out: '', code: -1 }));
      const re = new RegExp(`\\n@@${nonce} (\\d+)@@\\n([\\s\\S]*?)\\n@@${nonce} \\1 end (\\d+)@@\\n`, 'g');
      for (const m of `\n${out}`.matchAll(re)) {
        const i = Number(m[1]);
        results[i] = { out: m[2] ?? '', code: Number(m[3]) };
      }
      return results;
    },
  };
}
