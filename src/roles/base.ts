/**
 * What every server gets: base packages, the admins from devs.yml (users, keys, sudo), sshd
 * hardening — only once the admins' keys are in place, and never shutting out root's key (the
 * master and first-contact steps use it) — and the firewall.
 */
import type { Handler, State } from '../states/types.js';
import { text, type FirewallRule, type RoleContext, type RoleParts } from './context.js';

export const BASE_PACKAGES = ['sudo', 'nftables', 'cron', 'logrotate', 'ca-certificates', 'netbase'];

export function base(ctx: RoleContext): RoleParts {
  const states: State[] = [{ id: 'pkg:base', kind: 'pkg', params: { names: BASE_PACKAGES } }];
  const keyStates: string[] = [];
  const admins: string[] = [];
  const users = Object.entries(ctx.pillar.users);
  for (const [name, u] of users) {
    if (u.absent) continue;
    const home = `/home/${name}`;
    states.push({ id: `user:${name}`, kind: 'user', params: { name, home, shell: u.shell, groups: u.groups } });
    states.push({ id: `dir:${home}/.ssh`, kind: 'dir', params: { path: `${home}/.ssh`, mode: 0o700, owner: name, group: name }, requires: [`user:${name}`] });
    states.push({
      id: `file:${home}/.ssh/authorized_keys`,
      kind: 'file',
      params: { path: `${home}/.ssh/authorized_keys`, content: text(`# managed by ops (pillar/devs.yml)\n${u.keys.join('\n')}\n`), mode: 0o600, owner: name, group: name },
      requires: [`dir:${home}/.ssh`],
    });
    keyStates.push(`file:${home}/.ssh/authorized_keys`);
    if (u.sudo) admins.push(name);
  }
  const listed = users.filter(([, u]) => !u.absent).map(([n]) => n);
  // Offboarding: admins ops made that devs.yml no longer lists are locked out (or removed when absent).
  states.push({ id: 'admins', kind: 'admins', params: { listed, absent: users.filter(([, u]) => u.absent).map(([n]) => n) }, requires: listed.map((n) => `user:${n}`) });
  // Managed with or without admins, so one removed from devs.yml leaves it at the next converge.
  states.push({
    id: 'file:/etc/sudoers.d/ops-admins',
    kind: 'file',
    params: { path: '/etc/sudoers.d/ops-admins', content: text(ctx.tpl.render('base/sudoers.njk', { admins })), mode: 0o440 },
    requires: ['pkg:base', ...admins.map((a) => `user:${a}`)],
  });
  states.push({
    id: 'file:/etc/ssh/sshd_config.d/ops-hardening.conf',
    kind: 'file',
    params: { path: '/etc/ssh/sshd_config.d/ops-hardening.conf', content: text(ctx.tpl.render('base/sshd-hardening.conf.njk', {})), mode: 0o644 },
    requires: keyStates,
    notify: ['handler:sshd-reload'],
  });
  const handlers: Handler[] = [{ id: 'handler:sshd-reload', describe: 'reload sshd, after sshd -t (open sessions stay)', run: { line: 'sshd -t && { systemctl reload ssh 2>/dev/null || systemctl reload sshd; }' } }];
  return { states, handlers };
}

/** The firewall, from the rules every role of the host asked for; SSH on the port ops reaches the host at (its `port:`). */
export function firewall(ctx: RoleContext, rules: readonly FirewallRule[]): RoleParts {
  const rendered = rules.map((r) => ({
    port: r.port,
    proto: r.proto,
    comment: r.comment,
    from: r.from === 'any' ? 'any' : 'hosts',
    from4: r.from === 'any' ? [] : [...new Set(r.from.map((h) => h.privateAddress).filter((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a)))],
  }));
  return {
    states: [
      { id: 'file:/etc/nftables.conf', kind: 'file', params: { path: '/etc/nftables.conf', content: text(ctx.tpl.render('base/nftables.conf.njk', { rules: rendered, ssh_port: ctx.host.port })), mode: 0o755 }, requires: ['pkg:base'], notify: ['handler:nftables-reload'] },
      { id: 'service:nftables', kind: 'service', params: { name: 'nftables', enabled: true, running: true }, requires: ['file:/etc/nftables.conf'] },
    ],
    handlers: [{ id: 'handler:nftables-reload', describe: 'load the firewall rules (nft -f /etc/nftables.conf)', run: { argv: ['nft', '-f', '/etc/nftables.conf'] } }],
  };
}
