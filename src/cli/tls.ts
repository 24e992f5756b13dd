/** Certificates from an ACME CA (`tls.acme`): what the master's timer does, on request. */
import type { Command } from 'commander';
import { action, examples, lazy } from './command.js';
import { addConnectionOptions } from './remote.js';

export function registerTlsCommands(program: Command): void {
  const tls = program.command('tls').summary("the site's certificate from an ACME CA (renew)").description("Certificates from an ACME CA (tls.acme in the pillar): the first deploy issues one for domain and tls.acme.domains, the master's timer renews it when it is due, and every balancer serves the same one.");
  examples(tls, ['ops tls renew production', 'ops tls renew staging --force']);
  examples(
    addConnectionOptions(
      tls
        .command('renew')
        .summary('renew the certificate now if it is due (or, with --force, anyway) and hand it to every balancer')
        .description(
          "Runs on the master what its renewal timer runs: renews the environment's certificate when it is due (30 days before it expires, or tls.acme.renew_before_days), or at once with --force, and hands it to every balancer with a graceful nginx reload. The settings are those of the last deploy. Exit 1 when the CA refuses (its reason is printed); the certificate that served before serves on.",
        )
        .argument('[env]', 'environment')
        .option('--force', 'renew even when the certificate is not due'),
    ).action(action(lazy(() => import('./actions/tls.js'), 'renew'))),
    ['ops tls renew production', 'ops tls renew staging --force', 'ops --json tls renew staging'],
  );
}
