/**
 * Opening SSH sessions for an environment of a repo: the repo's pinned host keys, the operator's
 * credentials, and where new pins go. The command layer turns flags into a `ConnectRequest`; tasks
 * and built-in commands open their sessions here alike.
 */
import { KnownHosts } from '../ssh/knownhosts.js';
import { loadCredentials, type Credentials } from '../ssh/identities.js';
import { DEFAULT_CONNECT_TIMEOUT_MS, SshSession } from '../ssh/session.js';
import { knownHostsFiles, labKeyFile, pinFile, type Repo } from '../repo.js';

export interface ConnectRequest {
  repo: Repo;
  /** Private key files given by the operator (-i); ssh-agent and ~/.ssh keys are offered too. */
  identities?: readonly string[];
  connectTimeoutMs?: number;
  /** Pin the host key of a host never seen before (never a changed one). */
  acceptNew?: boolean;
  /** The environment is a lab one: new pins go to the repo's generated known_hosts. */
  lab?: boolean;
}

export function operatorCredentials(repo: Repo, identities: readonly string[] = []): Credentials {
  return loadCredentials(identities, [labKeyFile(repo)]);
}

export function openSession(req: ConnectRequest): SshSession {
  return new SshSession({
    knownHosts: KnownHosts.load(knownHostsFiles(req.repo)),
    credentials: operatorCredentials(req.repo, req.identities),
    connectTimeoutMs: req.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    acceptNewInto: req.acceptNew ? pinFile(req.repo, req.lab === true) : undefined,
  });
}
