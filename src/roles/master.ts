/** The master: Node for the bundled ops it runs (the bundle and its keys are kept by deploy itself). */
import type { RoleParts } from './context.js';

export function master(): RoleParts {
  return { states: [{ id: 'pkg:nodejs', kind: 'pkg', params: { names: ['nodejs'] } }] };
}
