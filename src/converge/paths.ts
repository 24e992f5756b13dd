/** Where a master keeps what is its own: the environments' private keys and its SSH key. */
export const MASTER_DIR = '/etc/ops';
export const MASTER_KEYS = `${MASTER_DIR}/keys`;
export const MASTER_SSH_KEY = `${MASTER_DIR}/ssh/id_ed25519`;
export const MASTER_WORK = '/var/lib/ops';

export function masterKeyFile(env: string): string {
  return `${MASTER_KEYS}/${env}.key`;
}
