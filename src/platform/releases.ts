/**
 * The one table of the operating system releases ops supports, and what differs between them.
 * A host's release is read from its /etc/os-release (`ID`, `VERSION_ID`); a host whose release is
 * not here is refused before anything changes on it. The Ubuntu rows cannot be tried here (no
 * Ubuntu archive is reachable from this project's lab): they come from those releases' own
 * package lists.
 */
import { UsageError } from '../errors.js';

export interface OsRelease {
  /** `debian-13`, as `ops lab up --distro` names it */
  key: string;
  /** /etc/os-release ID and VERSION_ID */
  id: 'debian' | 'ubuntu';
  version: string;
  codename: string;
  name: string;
  /** the PostgreSQL major its `postgresql` package installs */
  postgres: string;
  /** its Node.js runs the ops bundle (18.19 or later), so it can be a master */
  master: boolean;
  /** Node.js of the release, for messages */
  node: string;
  /** the lab can boot it (Debian's archive is reachable here) */
  lab: boolean;
}

export const RELEASES: readonly OsRelease[] = [
  { key: 'debian-13', id: 'debian', version: '13', codename: 'trixie', name: 'Debian 13 (trixie)', postgres: '17', master: true, node: '20', lab: true },
  { key: 'debian-12', id: 'debian', version: '12', codename: 'bookworm', name: 'Debian 12 (bookworm)', postgres: '15', master: true, node: '18', lab: true },
  { key: 'ubuntu-24.04', id: 'ubuntu', version: '24.04', codename: 'noble', name: 'Ubuntu 24.04 LTS', postgres: '16', master: true, node: '18', lab: false },
  { key: 'ubuntu-22.04', id: 'ubuntu', version: '22.04', codename: 'jammy', name: 'Ubuntu 22.04 LTS', postgres: '14', master: false, node: '12', lab: false },
];

export const DEFAULT_LAB_RELEASE = 'debian-13';

export function releaseByKey(key: string): OsRelease | undefined {
  return RELEASES.find((r) => r.key === key);
}

export function releaseOf(os: { osId: string; osVersion: string }): OsRelease | undefined {
  return RELEASES.find((r) => r.id === os.osId && r.version === os.osVersion);
}

/** `Debian 13, Debian 12, Ubuntu 24.04, Ubuntu 22.04 (not as a master)`. */
export function supportedReleases(): string {
  return RELEASES.map((r) => `${r.name.replace(/ \(.*\)| LTS/g, '')}${r.master ? '' : ' (not as a master)'}`).join(', ');
}

/** What the host runs, as os-release says it (`debian 11`, `alpine 3.20`, …). */
export function describeOs(os: { osId: string; osVersion: string; osPretty?: string }): string {
  return os.osPretty || `${os.osId || 'an unknown system'}${os.osVersion ? ` ${os.osVersion}` : ''}`;
}

/** The host's release from the table, or a usage error (exit 2) naming the host, what it runs and what ops supports. */
export function supportedRelease(host: string, os: { osId: string; osVersion: string; osPretty?: string }, asMaster = false): OsRelease {
  const r = releaseOf(os);
  if (!r) throw new UsageError(`${host} runs ${describeOs(os)}, which ops does not support (ops supports ${supportedReleases()})`, 'nothing was changed on any host');
  if (asMaster && !r.master) throw new UsageError(`${host} runs ${r.name}: its Node.js (${r.node}) is too old for a master (18.19 or later: ${RELEASES.filter((x) => x.master).map((x) => x.name).join(', ')})`, 'make it a minion, and another host the master');
  return r;
}
