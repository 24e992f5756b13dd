/** Types of the lab API (src/lab/index.ts). */

export interface LabHostInfo {
  env: string;
  name: string;
  address: string;
  port: number;
  /**
   * running: up, sshd answers · starting: up, sshd does not answer (yet) · stopped: no process runs, its
   * disk is kept (`ops lab start`) · orphaned: its processes run without their systemd-nspawn supervisor ·
   * stale: an unrecorded leftover of this lab
   */
  state: 'running' | 'starting' | 'stopped' | 'orphaned' | 'stale';
  /** `debian-13`; '' for an unrecorded leftover */
  release: string;
  netns: string;
  pid?: number;
}

export interface LabLog {
  (line: string): void;
}
