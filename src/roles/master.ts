/**
 * The master: Node for the bundled ops it runs (the bundle and its keys are kept by deploy
 * itself), and git with the OpenSSH client to fetch the app for releases. With `tls.acme`, a
 * timer that renews the environment's certificate when it is due (`ops __acme-renew`).
 */
import { REMOTE_OPS } from '../provision/bundle.js';
import type { State } from '../states/types.js';
import { renewalUnits } from '../tls/paths.js';
import { systemdExec } from './escape.js';
import { timespanSeconds } from '../pillar/forms.js';
import { hostsWith, text, type RoleContext, type RoleParts } from './context.js';

export function master(ctx: RoleContext): RoleParts {
  const states: State[] = [{ id: 'pkg:master', kind: 'pkg', params: { names: ['nodejs', 'git', 'openssh-client'] } }];
  const { service, timer } = renewalUnits(ctx.env);
  const acme = ctx.pillar.tls.acme;
  // renewal hands the certificate to balancers: without one there is nothing to renew for
  if (acme && hostsWith(ctx, 'balancer').length > 0) {
    const every = acme.check_every;
    const vars = { env: ctx.env, every, jitter: `${Math.min(3600, Math.floor(timespanSeconds(every) / 10))}s`, exec: systemdExec([REMOTE_OPS, '__acme-renew', ctx.env]) };
    states.push(
      { id: `unit:${service}`, kind: 'unit', params: { name: service, content: text(ctx.tpl.render('master/acme-renew.service.njk', vars)) } },
      { id: `unit:${timer}`, kind: 'unit', params: { name: timer, content: text(ctx.tpl.render('master/acme-renew.timer.njk', vars)) }, notify: ['handler:acme-timer-restart'] },
      { id: `service:${timer}`, kind: 'service', params: { name: timer, enabled: true, running: true }, requires: [`unit:${timer}`, `unit:${service}`] },
    );
    return { states, handlers: [{ id: 'handler:acme-timer-restart', describe: `restart ${timer}`, run: { argv: ['systemctl', 'restart', timer] } }] };
  }
  // no tls.acme (any more): no renewal timer
  states.push(
    { id: `service:${timer}`, kind: 'service', params: { name: timer, enabled: false, running: false } },
    { id: `absent:/etc/systemd/system/${timer}`, kind: 'absent', params: { path: `/etc/systemd/system/${timer}` }, requires: [`service:${timer}`], notify: ['handler:daemon-reload'] },
    { id: `absent:/etc/systemd/system/${service}`, kind: 'absent', params: { path: `/etc/systemd/system/${service}` }, notify: ['handler:daemon-reload'] },
  );
  return { states, handlers: [{ id: 'handler:daemon-reload', describe: 'systemctl daemon-reload', run: { argv: ['systemctl', 'daemon-reload'] } }] };
}
