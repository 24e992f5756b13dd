/**
 * The master: Node for the bundled ops it runs (the bundle and its keys are kept by deploy
 * itself), and git with the OpenSSH client to fetch the app for releases.
 */
import type { RoleParts } from './context.js';

export function master(): RoleParts {
  return { states: [{ id: 'pkg:master', kind: 'pkg', params: { names: ['nodejs', 'git', 'openssh-client'] } }] };
}
