/**
 * Host test files run one at a time; the files that converge a shared lab environment from bare hosts
 * as their own subject run before the files that start from its snapshot, so that converge is paid once
 * (see test/support/converged.ts); the files that only share the demo lane run after its own files.
 * Everything else keeps Vitest's own order.
 */
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { BESIDE_DEMO, PRODUCERS } from './converged-kinds.js';

export default class HostsFirstProducers extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification): number => {
      const i = PRODUCERS.findIndex((p) => f.moduleId.endsWith(p));
      if (i >= 0) return i;
      return BESIDE_DEMO.some((p) => f.moduleId.endsWith(p)) ? PRODUCERS.length + 1 : PRODUCERS.length;
    };
    return sorted.map((f, i) => ({ f, i })).sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i).map((x) => x.f);
  }
}
