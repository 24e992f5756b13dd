/**
 * `balancer`: nginx in front of the web hosts for the pillar's domain — HTTP redirected to HTTPS,
 * the certificate from the ACME CA (`tls.acme`, handed over by the master), else the pillar's
 * (or one made on the host, self-signed for the domain), basic auth from
 * `http_auth` (apr1 hashes), static and media served from disk when the host is also a web host.
 * TLS keys and basic-auth passwords go to balancers and nowhere else.
 */
import { UsageError } from '../errors.js';
import { shellLine } from '../ssh/quote.js';
import type { Handler, State } from '../states/types.js';
import { appPaths } from './app.js';
import { hostsWith, text, type Host, type RoleContext, type RoleParts } from './context.js';
import type { Pillar } from '../pillar/schema.js';
import { webPortRange } from '../release/processes.js';
import { ACME_WEBROOT, balancerCertificate, CHALLENGE_DIR, certificateNames } from '../tls/paths.js';

/** nginx re-reads its configuration and certificates without dropping a connection. */
export const NGINX_RELOAD: Handler = { id: 'handler:nginx-reload', describe: 'graceful nginx reload, after nginx -t', run: { line: 'nginx -t -q && systemctl reload nginx' } };

/** `ops maintenance`: its page (index.html) and, while it is on, the file `on`. */
export function maintenanceDir(project: string): string {
  return `/var/lib/ops-maintenance/${project}`;
}

/** The servers of the site's upstream, in a file of their own: a rolling release rewrites it to take hosts out. */
export function upstreamFile(project: string): string {
  return `/etc/nginx/${project}.upstream.conf`;
}

/**
 * The upstream's `server` lines: the app port of every web host — for a Procfile app every port
 * of its two sets (the idle set refuses at once) — and those of `drained` hosts marked down.
 */
export function upstreamServers(pillar: Pillar, webs: readonly Host[], drained: ReadonlySet<string> = new Set()): string {
  const ports = pillar.app.type === 'procfile' ? webPortRange(pillar) : { first: pillar.app.port, last: pillar.app.port };
  // a Procfile app's idle ports refuse at once and the next is tried: never marked failed, so the
  // set that has just started is used the moment it listens (marked failed it would be skipped
  // for fail_timeout, and with the old set stopping nothing would be left)
  const options = pillar.app.type === 'procfile' ? 'max_fails=0' : 'max_fails=3 fail_timeout=5s';
  const lines = webs.flatMap((h) =>
    Array.from({ length: ports.last - ports.first + 1 }, (_, i) => `server ${h.privateAddress}:${ports.first + i} ${options}${drained.has(h.name) ? ' down' : ''};`),
  );
  if (lines.length === 0) lines.push(`server 127.0.0.1:${pillar.app.port} down;`);
  return `# Managed by ops: the web hosts of ${pillar.project}${drained.size > 0 ? ` (taken out during a release: ${[...drained].join(', ')})` : ''}\n${lines.join('\n')}\n`;
}

export function balancer(ctx: RoleContext): RoleParts {
  const domain = ctx.pillar.domain;
  if (!domain) throw new UsageError(`the balancer role needs a domain: add \`domain:\` to pillar/${ctx.env}.yml`);
  const p = appPaths(ctx);
  const dir = '/etc/ssl/ops';
  const secrets = ctx.pillar.secrets;
  const acme = ctx.pillar.tls.acme;
  const names = certificateNames(ctx.pillar);
  const own = secrets.ssl_cert !== undefined && secrets.ssl_key !== undefined;
  if ((secrets.ssl_cert === undefined) !== (secrets.ssl_key === undefined)) throw new UsageError('the pillar has only one of ssl_cert and ssl_key; give both (or neither, for a self-signed certificate)');
  if (acme && own) throw new UsageError('the pillar has both tls.acme and ssl_cert/ssl_key: keep one (the CA\'s certificate, or your own)');
  const { cert, key } = balancerCertificate(ctx.pillar, domain);
  const states: State[] = [
    { id: 'pkg:nginx', kind: 'pkg', params: { names: ['nginx', 'openssl'] } },
    // nginx reads certificates and keys as root (before it drops to www-data): nobody else needs them
    { id: `dir:${dir}`, kind: 'dir', params: { path: dir, mode: 0o700, owner: 'root', group: 'root' }, requires: ['pkg:nginx'] },
  ];
  if (own) {
    states.push(
      { id: `file:${cert}`, kind: 'file', params: { path: cert, content: text(`${(secrets.ssl_cert ?? '').trim()}\n`), mode: 0o644 }, notify: ['handler:nginx-reload'] },
      { id: `file:${key}`, kind: 'file', params: { path: key, content: text(`${(secrets.ssl_key ?? '').trim()}\n`), mode: 0o600, owner: 'root', group: 'root' }, secret: true, notify: ['handler:nginx-reload'] },
    );
  } else {
    // With tls.acme this is the placeholder at the served path until the master hands over the
    // CA's certificate; made only when nothing is there, so a converge never replaces the CA's.
    const san = names.map((n) => `DNS:${n}`).join(',');
    const make = shellLine(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '825', '-subj', `/CN=${domain}`, '-addext', `subjectAltName=${san}`, '-keyout', key, '-out', cert]);
    states.push({
      id: `cmd:self-signed:${domain}`,
      kind: 'cmd',
      params: { run: { line: `umask 077 && ${make} 2>/dev/null` }, creates: cert, describe: `self-signed certificate for ${domain}${acme ? ' (until the CA\'s is issued)' : ''}` },
      requires: [`dir:${dir}`],
      notify: ['handler:nginx-reload'],
    });
  }
  if (acme) {
    // HTTP-01: nginx serves the tokens the master puts here (world-readable: they are public)
    states.push(
      { id: `dir:${ACME_WEBROOT}`, kind: 'dir', params: { path: ACME_WEBROOT, mode: 0o755 } },
      { id: `dir:${CHALLENGE_DIR}`, kind: 'dir', params: { path: CHALLENGE_DIR, mode: 0o755 }, requires: [`dir:${ACME_WEBROOT}`] },
    );
  }
  const users = ctx.pillar.http_auth;
  const htpasswd = Object.keys(users).length > 0 ? `/etc/nginx/${ctx.project}.htpasswd` : undefined;
  if (htpasswd) {
    states.push({ id: `htpasswd:${htpasswd}`, kind: 'htpasswd', params: { path: htpasswd, users, owner: 'root', group: 'www-data', mode: 0o640 }, secret: true, requires: ['pkg:nginx'] });
  } else states.push({ id: `absent:/etc/nginx/${ctx.project}.htpasswd`, kind: 'absent', params: { path: `/etc/nginx/${ctx.project}.htpasswd` } });
  const upstream = upstreamFile(ctx.project);
  states.push({ id: `file:${upstream}`, kind: 'file', params: { path: upstream, content: text(upstreamServers(ctx.pillar, hostsWith(ctx, 'web'))), mode: 0o644 }, requires: ['pkg:nginx'], notify: ['handler:nginx-reload'] });
  const site = ctx.tpl.render('balancer/site.conf.njk', {
    project: ctx.project,
    domain,
    server_names: names.length > 0 ? names : [domain],
    acme_webroot: acme ? ACME_WEBROOT : undefined,
    hsts: ctx.pillar.tls.hsts,
    upstream_file: upstream,
    cert,
    key,
    htpasswd,
    health_uri: ctx.pillar.healthcheck.path.split('?')[0],
    maintenance_dir: maintenanceDir(ctx.project),
    local_files: ctx.host.roles.includes('web'),
    paths: p,
  });
  const conf = `/etc/nginx/sites-available/${ctx.project}.conf`;
  states.push({ id: `dir:${maintenanceDir(ctx.project)}`, kind: 'dir', params: { path: maintenanceDir(ctx.project), mode: 0o755 } });
  states.push(
    { id: `file:${conf}`, kind: 'file', params: { path: conf, content: text(site), mode: 0o644 }, requires: ['pkg:nginx'], notify: ['handler:nginx-reload'] },
    // a site file of the same name (margarita wrote its site there) moves out of sites-enabled, kept
    { id: `symlink:/etc/nginx/sites-enabled/${ctx.project}.conf`, kind: 'symlink', params: { path: `/etc/nginx/sites-enabled/${ctx.project}.conf`, target: conf, displace: `/etc/nginx/${ctx.project}.conf.before-ops` }, notify: ['handler:nginx-reload'] },
    { id: 'absent:/etc/nginx/sites-enabled/default', kind: 'absent', params: { path: '/etc/nginx/sites-enabled/default' }, notify: ['handler:nginx-reload'] },
    { id: 'service:nginx', kind: 'service', params: { name: 'nginx', enabled: true, running: true }, requires: ['pkg:nginx'] },
  );
  return {
    states,
    handlers: [NGINX_RELOAD],
    firewall: [
      { port: 80, proto: 'tcp', from: 'any', comment: 'http' },
      { port: 443, proto: 'tcp', from: 'any', comment: 'https' },
    ],
  };
}
