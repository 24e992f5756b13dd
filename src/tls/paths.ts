/**
 * Where certificates from an ACME CA live: on the master (the ACME client, its account key, the
 * certificate and its key, root-only) and on the balancers (the served copy, and the folder nginx
 * answers HTTP-01 challenges from). Shared by the balancer role and the master's ACME client.
 */
import type { Pillar } from '../pillar/schema.js';
import { MASTER_WORK } from '../converge/paths.js';

/** nginx's root for `/.well-known/acme-challenge/` on port 80 of every balancer. */
export const ACME_WEBROOT = '/var/lib/ops-acme-challenge';
export const CHALLENGE_DIR = `${ACME_WEBROOT}/.well-known/acme-challenge`;

/** The certificate a balancer serves for the domain: self-signed until the CA's is handed over. */
export function servedCertificate(domain: string): { cert: string; key: string } {
  const d = domain.toLowerCase();
  return { cert: `/etc/ssl/ops/${d}.acme.crt`, key: `/etc/ssl/ops/${d}.acme.key` };
}

/**
 * The certificate and key a balancer serves: the CA's (tls.acme), the pillar's own (ssl_cert and
 * ssl_key), or one made on the host, self-signed for the domain.
 */
export function balancerCertificate(p: Pick<Pillar, 'tls' | 'secrets'>, domain: string): { cert: string; key: string } {
  if (p.tls.acme) return servedCertificate(domain);
  const own = p.secrets.ssl_cert !== undefined && p.secrets.ssl_key !== undefined ? '' : '.self-signed';
  return { cert: `/etc/ssl/ops/${domain}${own}.crt`, key: `/etc/ssl/ops/${domain}${own}.key` };
}

/** The master's folder for one environment's certificate (0700, root), in the environment's own. */
export function acmeStateDir(env: string): string {
  return `${MASTER_WORK}/${env}/acme`;
}

/** The names of the certificate: the domain first, then the extra ones, each once. */
export function certificateNames(p: Pick<Pillar, 'domain' | 'tls'>): string[] {
  if (!p.domain) return [];
  return [...new Set([p.domain, ...(p.tls.acme?.domains ?? [])].map((d) => d.toLowerCase()))];
}

/** The systemd units of the master's renewal for an environment. */
export function renewalUnits(env: string): { service: string; timer: string } {
  return { service: `ops-acme-renew-${env}.service`, timer: `ops-acme-renew-${env}.timer` };
}
