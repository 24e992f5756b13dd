/**
 * `balancer`: nginx in front of the web hosts for the pillar's domain — HTTP redirected to HTTPS,
 * the pillar's certificate (or one made on the host, self-signed for the domain), basic auth from
 * `http_auth` (apr1 hashes), static and media served from disk when the host is also a web host.
 * TLS keys and basic-auth passwords go to balancers and nowhere else.
 */
import { UsageError } from '../errors.js';
import { shellLine } from '../ssh/quote.js';
import type { State } from '../states/types.js';
import { appPaths } from './app.js';
import { hostsWith, text, type RoleContext, type RoleParts } from './context.js';

export function balancer(ctx: RoleContext): RoleParts {
  const domain = ctx.pillar.domain;
  if (!domain) throw new UsageError(`the balancer role needs a domain: add \`domain:\` to pillar/${ctx.env}.yml`);
  const p = appPaths(ctx);
  const dir = '/etc/ssl/ops';
  const secrets = ctx.pillar.secrets;
  const own = secrets.ssl_cert !== undefined && secrets.ssl_key !== undefined;
  if ((secrets.ssl_cert === undefined) !== (secrets.ssl_key === undefined)) throw new UsageError('the pillar has only one of ssl_cert and ssl_key; give both (or neither, for a self-signed certificate)');
  const cert = `${dir}/${domain}${own ? '' : '.self-signed'}.crt`;
  const key = `${dir}/${domain}${own ? '' : '.self-signed'}.key`;
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
    const make = shellLine(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '825', '-subj', `/CN=${domain}`, '-addext', `subjectAltName=DNS:${domain}`, '-keyout', key, '-out', cert]);
    states.push({
      id: `cmd:self-signed:${domain}`,
      kind: 'cmd',
      params: { run: { line: `umask 077 && ${make} 2>/dev/null` }, creates: cert, describe: `self-signed certificate for ${domain}` },
      requires: [`dir:${dir}`],
      notify: ['handler:nginx-reload'],
    });
  }
  const users = ctx.pillar.http_auth;
  const htpasswd = Object.keys(users).length > 0 ? `/etc/nginx/${ctx.project}.htpasswd` : undefined;
  if (htpasswd) {
    states.push({ id: `htpasswd:${htpasswd}`, kind: 'htpasswd', params: { path: htpasswd, users, owner: 'root', group: 'www-data', mode: 0o640 }, secret: true, requires: ['pkg:nginx'] });
  } else states.push({ id: `absent:/etc/nginx/${ctx.project}.htpasswd`, kind: 'absent', params: { path: `/etc/nginx/${ctx.project}.htpasswd` } });
  const upstreams = hostsWith(ctx, 'web').map((h) => `${h.privateAddress}:${ctx.pillar.app.port}`);
  const site = ctx.tpl.render('balancer/site.conf.njk', {
    project: ctx.project,
    domain,
    upstreams,
    port: ctx.pillar.app.port,
    cert,
    key,
    htpasswd,
    health_path: ctx.pillar.healthcheck.path,
    local_files: ctx.host.roles.includes('web'),
    paths: p,
  });
  const conf = `/etc/nginx/sites-available/${ctx.project}.conf`;
  states.push(
    { id: `file:${conf}`, kind: 'file', params: { path: conf, content: text(site), mode: 0o644 }, requires: ['pkg:nginx'], notify: ['handler:nginx-reload'] },
    { id: `symlink:/etc/nginx/sites-enabled/${ctx.project}.conf`, kind: 'symlink', params: { path: `/etc/nginx/sites-enabled/${ctx.project}.conf`, target: conf }, notify: ['handler:nginx-reload'] },
    { id: 'absent:/etc/nginx/sites-enabled/default', kind: 'absent', params: { path: '/etc/nginx/sites-enabled/default' }, notify: ['handler:nginx-reload'] },
    { id: 'service:nginx', kind: 'service', params: { name: 'nginx', enabled: true, running: true }, requires: ['pkg:nginx'] },
  );
  return {
    states,
    handlers: [{ id: 'handler:nginx-reload', run: { line: 'nginx -t -q && systemctl reload nginx' } }],
    firewall: [
      { port: 80, proto: 'tcp', from: 'any', comment: 'http' },
      { port: 443, proto: 'tcp', from: 'any', comment: 'https' },
    ],
  };
}
