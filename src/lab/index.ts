/**
 * `ops lab`: real Debian 13 (or 12) hosts on this machine (Linux, root), booted with systemd in network namespaces
 * on a private bridge, for trying and testing ops. See DESIGN.md §5.
 */
export type { LabHostInfo, LabLog } from './types.js';
export { labUp, labUpFrom } from './up.js';
export { labPower, type LabPowerAction } from './lifecycle.js';
export { labDown } from './down.js';
export { labStatus } from './status.js';
export { labPreflight } from './preflight.js';
export { runAptProxyFromArgv } from './apt-proxy.js';
