/** `ops lab`: real Debian test hosts on this machine (Linux, root). */
import type { Command } from 'commander';
import { action, examples, intOption } from './command.js';

export function registerLabCommands(program: Command): void {
  const lab = program
    .command('lab')
    .summary('real Debian test hosts on this machine (up, status, down)')
    .description('Boots Debian 12 hosts with systemd and sshd in network namespaces on this machine, for trying and testing ops. Needs root on Linux.');
  examples(
    lab
      .command('up')
      .summary('create or resume lab hosts for an environment')
      .option('--hosts <n>', 'number of hosts', '3')
      .action(
        action(async (ctx, _args, opts) => {
          const { labPreflight, labUp } = await import('../lab/index.js');
          labPreflight();
          const env = ctx.opts.env ?? 'lab';
          const hosts = intOption(opts.hosts, '--hosts', 1, 60) ?? 3;
          const started = Date.now();
          const list = await labUp(ctx.repo, { env, hosts, log: (l) => ctx.out.info(l) });
          for (const h of list) ctx.out.result(`${h.name}\t${h.address}\t${h.state}`);
          ctx.out.info(`lab '${env}': ${list.length} host(s) ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        }),
      ),
    ['ops lab up', 'ops lab up --env production --hosts 2 && ops lab up --env staging --hosts 2'],
  );
  examples(
    lab
      .command('status')
      .summary('list lab hosts with env, name, address, state and roles')
      .action(
        action(async (ctx) => {
          const { labStatus } = await import('../lab/index.js');
          const hosts = await labStatus(ctx.repo);
          if (hosts.length === 0) {
            ctx.out.info('no lab hosts (start some with `ops lab up`)');
            return;
          }
          const { loadPillar } = await import('../pillar/load.js');
          const roles = new Map<string, string>();
          for (const env of new Set(hosts.map((h) => h.env))) {
            try {
              for (const [name, s] of Object.entries(loadPillar(ctx.repo, env).data.servers)) roles.set(`${env}/${name}`, s.roles.join(',') || '-');
            } catch {
              // an environment whose pillar does not load shows no roles
            }
          }
          ctx.out.result(['ENV', 'NAME', 'ADDRESS', 'STATE', 'ROLES'].join('\t'));
          for (const h of hosts) ctx.out.result([h.env, h.name, h.address, h.state, roles.get(`${h.env}/${h.name}`) ?? '-'].join('\t'));
        }),
      ),
    ['ops lab status'],
  );
  examples(
    lab
      .command('serve-repo')
      .summary("serve an app's git repo from the lab master over SSH and point repo.url at it")
      .description(
        "Publishes FOLDER (a git work tree: its branches; any other folder: one commit of its files) as a bare repository on the lab environment's master, reachable as git@MASTER with the environment's deploy key (ops deploy-key ENV --write), and sets repo.url for the lab environment in the git-ignored overlay. Run it again to publish changes.",
      )
      .argument('<folder>', 'the app (e.g. examples/demo-app)')
      .option('--name <name>', 'repository name (default: the folder name)')
      .action(
        action(async (ctx, args, opts) => {
          const { serveRepo } = await import('../lab/serve-repo.js');
          await serveRepo(ctx, ctx.opts.env ?? 'lab', String(args[0]), opts);
        }),
      ),
    ['ops lab serve-repo examples/demo-app', 'ops lab serve-repo --env staging ../myapp'],
  );
  examples(
    lab
      .command('down')
      .summary('remove lab hosts (all, or one environment with --env)')
      .action(
        action(async (ctx) => {
          const { labDown, labPreflight } = await import('../lab/index.js');
          labPreflight();
          await labDown(ctx.repo, { env: ctx.opts.env, log: (l) => ctx.out.info(l) });
        }),
      ),
    ['ops lab down', 'ops lab down --env staging'],
  );
}
