/** systemd units and services (with `service` where systemd is not running). */
import type { Plan, StateKind } from '../types.js';
import { kv, q, sha256 } from '../facts-format.js';

export interface ServiceParams {
  name: string;
  enabled: boolean;
  running: boolean;
  /** Only required to run once this path exists (e.g. an app's first release); until then ok. */
  whenExists?: string;
}

export const service: StateKind<ServiceParams> = {
  facts: (p) =>
    `${p.whenExists ? `[ -e ${q(p.whenExists)} ] && echo present=1; ` : ''}if [ -d /run/systemd/system ]; then echo systemd=1; printf 'enabled=%s\\n' "$(systemctl is-enabled ${q(p.name)} 2>/dev/null)"; printf 'active=%s\\n' "$(systemctl is-active ${q(p.name)} 2>/dev/null)"; else service ${q(p.name)} status >/dev/null 2>&1 && echo active=active || echo active=inactive; fi`,
  plan(p, f): Plan {
    const facts = kv(f.out);
    const steps: Plan['steps'] = [];
    const changes: string[] = [];
    const systemd = facts.systemd === '1';
    const active = facts.active === 'active';
    const enabled = facts.enabled === 'enabled' || facts.enabled === 'static' || facts.enabled === 'alias';
    if (systemd && p.enabled !== enabled && facts.enabled !== 'static') {
      changes.push(p.enabled ? 'enable' : 'disable');
      steps.push({ run: { argv: ['systemctl', p.enabled ? 'enable' : 'disable', '--quiet', p.name] } });
    }
    if (p.running && !active && p.whenExists && facts.present !== '1') {
      // Nothing to run yet: installed and enabled, it starts with the first release.
      return changes.length === 0 ? { status: 'ok', summary: `waiting for ${p.whenExists}`, steps } : { status: 'change', summary: changes.join(' + '), steps };
    }
    if (p.running !== active) {
      changes.push(p.running ? 'start' : 'stop');
      steps.push({ run: { argv: systemd ? ['systemctl', p.running ? 'start' : 'stop', p.name] : ['service', p.name, p.running ? 'start' : 'stop'] } });
    }
    if (changes.length === 0) return { status: 'ok', summary: `${p.running ? 'running' : 'stopped'}${p.enabled ? ', enabled' : ''}`, steps };
    return { status: 'change', summary: changes.join(' + '), steps };
  },
};

export interface UnitParams {
  name: string;
  content: Buffer;
}

/** A unit file under /etc/systemd/system; systemd re-reads units when it changes. */
export const unit: StateKind<UnitParams> = {
  facts: (p) => `f=/etc/systemd/system/${q(p.name)}; [ -f "$f" ] && sha256sum < "$f" | cut -c1-64; true`,
  plan(p, f): Plan {
    if (f.out.trim() === sha256(p.content)) return { status: 'ok', summary: 'up to date', steps: [] };
    const path = `/etc/systemd/system/${p.name}`;
    return {
      status: 'change',
      summary: f.out.trim() ? 'update unit' : 'install unit',
      steps: [{ upload: { path, content: p.content, mode: 0o644, owner: 'root', group: 'root' } }, { run: { argv: ['sh', '-c', '[ ! -d /run/systemd/system ] || systemctl daemon-reload'] } }],
      diffPath: path,
      newContent: p.content,
    };
  },
};
