/** Types of the lab API (src/lab/index.ts). */

export interface LabHostInfo {
  env: string;
  name: string;
  address: string;
  port: number;
  /** running: machine up and sshd answers; stopped: machine up, sshd silent; stale: machine gone, leftovers remain */
  state: 'running' | 'stopped' | 'stale';
  netns: string;
  pid?: number;
}

export interface LabLog {
  (line: string): void;
}
