/** `ops lab`: real Debian test hosts on this machine (Linux, root). */
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import type { LabPowerAction } from '../lab/index.js';
import type { LabHostInfo } from '../lab/types.js';
import type { EventData } from '../ui/events.js';
import { action, examples, intOption } from './command.js';

export function registerLabCommands(program: Command): void {
  const lab = program
    .command('lab')
    .summary('real Debian test hosts on this machine (up, status, stop, kill, start, destroy, down, snapshot)')
    .description('Boots Debian hosts (13 by default, 12 on request) with systemd and sshd in network namespaces on this machine, for trying and testing ops. Hosts keep their disks across stop, kill and start, as servers do. Needs root on Linux.');
  examples(lab, ['ops lab up && ops setup-master lab -H lab-1 && ops setup-minion lab web,db -H lab-2', 'ops lab status', 'ops lab snapshot save demo-converged', 'ops lab down']);
  examples(
    lab
      .command('up')
      .summary('create or resume lab hosts for an environment, or boot them from a snapshot')
      .description(
        'Boots the lab hosts of an environment (default: lab, 3 hosts). With --from NAME, boots the hosts of a snapshot instead (of every env it holds, or of --env): already converged, at the addresses and with the host keys they had, with the env\'s inventory, keys and secrets put back into .ops/.',
      )
      .option('--hosts <n>', 'number of hosts (default: 3)')
      .option('--distro <release[,release…]>', 'debian-13 (the default) or debian-12, for all hosts, or one per host in order')
      .option('--from <snapshot>', 'boot the hosts of a snapshot (`ops lab snapshot list`)')
      .action(
        action(async (ctx, _args, opts) => {
          const { labPreflight, labUp, labUpFrom } = await import('../lab/index.js');
          labPreflight();
          const started = Date.now();
          const log = (l: string) => ctx.out.info(l);
          if (typeof opts.from === 'string') {
            if (opts.hosts !== undefined || opts.distro !== undefined) throw new UsageError('--hosts and --distro do not go with --from: a snapshot boots the hosts it holds');
            const list = await labUpFrom(ctx.repo, { snapshot: opts.from, env: ctx.opts.env, log });
            for (const h of list) ctx.out.result(`${h.name}\t${h.address}\t${h.state}`, 'lab_host', labHost(h));
            ctx.out.info(`lab from snapshot '${opts.from}': ${list.length} host(s) ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
            return;
          }
          const env = ctx.opts.env ?? 'lab';
          const hosts = intOption(opts.hosts, '--hosts', 1, 60) ?? 3;
          const list = await labUp(ctx.repo, { env, hosts, distro: typeof opts.distro === 'string' ? opts.distro : undefined, log });
          for (const h of list) ctx.out.result(`${h.name}\t${h.address}\t${h.state}\t${h.release}`, 'lab_host', labHost(h));
          ctx.out.info(`lab '${env}': ${list.length} host(s) ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        }),
      ),
    ['ops lab up', 'ops lab up --env production --hosts 2 && ops lab up --env staging --hosts 2', 'ops lab up --distro debian-12,debian-13,debian-13   # lab-1 on Debian 12', 'ops lab up --from demo-converged'],
  );
  registerSnapshotCommands(lab);
  const power: Array<[LabPowerAction, string, string]> = [
    ['stop', 'shut lab hosts down cleanly (their disks stay)', 'systemd in each host stops its services, as on a server that is shut down; `ops lab start` boots it again with its disk as it was.'],
    ['kill', 'cut the power of lab hosts: every process ends at once (their disks stay)', 'Every process of the host ends at the same instant, as in a power cut; the disk keeps what the processes had written. `ops lab start` boots it again.'],
    ['start', 'boot stopped lab hosts again, with their disks as they were', 'Boots the hosts again with their disks (packages, keys, data) and host keys; `ops lab up` does the same for every stopped host of an env.'],
    ['destroy', 'remove lab hosts and their disks', 'The host and its disk are gone; the next `ops lab up` makes a new one in its place, with a new host key.'],
  ];
  for (const [name, summary, description] of power) {
    examples(
      lab
        .command(name)
        .summary(summary)
        .description(description)
        .argument('<hosts...>', 'host names (ops lab status)')
        .action(
          action(async (ctx, args) => {
            const { labPower } = await import('../lab/index.js');
            for (const h of await labPower(ctx.repo, name, args, (l) => ctx.out.info(l))) ctx.out.result(`${h.name}\t${h.address}\t${h.state}\t${h.release}`, 'lab_host', labHost(h));
          }),
        ),
      [`ops lab ${name} lab-2`],
    );
  }
  examples(
    lab
      .command('status')
      .summary('list lab hosts: env, name, address, state (running, starting, stopped, orphaned, stale), roles, release')
      .action(
        action(async (ctx) => {
          const { labStatus } = await import('../lab/index.js');
          const hosts = await labStatus(ctx.repo);
          if (hosts.length === 0) {
            ctx.out.info('no lab hosts (start some with `ops lab up`)');
            return;
          }
          const { loadPillar } = await import('../pillar/load.js');
          const roles = new Map<string, string[]>();
          for (const env of new Set(hosts.map((h) => h.env))) {
            try {
              for (const [name, s] of Object.entries(loadPillar(ctx.repo, env).data.servers)) roles.set(`${env}/${name}`, [...s.roles]);
            } catch {
              // an environment whose pillar does not load shows no roles
            }
          }
          ctx.out.result(['ENV', 'NAME', 'ADDRESS', 'STATE', 'ROLES', 'RELEASE'].join('\t'), null);
          for (const h of hosts) {
            const r = roles.get(`${h.env}/${h.name}`);
            ctx.out.result([h.env, h.name, h.address, h.state, r?.join(',') || '-', h.release || '-'].join('\t'), 'lab_host', { ...labHost(h), roles: r ?? [] });
          }
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
          const { serveRepo } = await import('./actions/serve-repo.js');
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
          const gone = await labDown(ctx.repo, { env: ctx.opts.env, log: (l) => ctx.out.info(l) });
          ctx.out.event('lab_removed', gone);
        }),
      ),
    ['ops lab down', 'ops lab down --env staging'],
  );
}

function registerSnapshotCommands(lab: Command): void {
  const snap = lab
    .command('snapshot')
    .summary('keep the disks of converged lab hosts, to boot them again in seconds (save, list, rm)')
    .description(
      'A snapshot keeps the disks of lab hosts as they are (say, after a converge), with their host keys and addresses and the env\'s inventory, keys and secrets from .ops/. `ops lab up --from NAME` boots them again, already converged, in any clone of the repo. Snapshots live in /var/cache/ops-lab/snapshots (outside any clone) and are refused when ops or the base image changed since they were made.',
    );
  examples(snap, ['ops lab snapshot save demo-converged', 'ops lab snapshot list', 'ops lab up --from demo-converged', 'ops lab snapshot rm demo-converged']);
  examples(
    snap
      .command('save')
      .summary("keep the disks of the lab's hosts (all, or one env with --env)")
      .description(
        "Each host shuts down cleanly, its disk becomes a layer of the snapshot (nothing is copied), and it boots again on top of it: the lab goes on as it was. A host booted from another snapshot keeps building on it (that one cannot be removed while this one exists).",
      )
      .argument('<name>', 'snapshot name (letters, digits, . _ -)')
      .action(
        action(async (ctx, args) => {
          const { saveSnapshot } = await import('../lab/snapshot.js');
          const m = await saveSnapshot(ctx.repo, { name: String(args[0]), env: ctx.opts.env, log: (l) => ctx.out.info(l) });
          ctx.out.result(`${m.name}\t${m.envs.join(',')}\t${m.hosts.map((h) => h.name).join(',')}`, 'snapshot_saved', { name: m.name, envs: m.envs, hosts: m.hosts.map((h) => h.name) });
        }),
      ),
    ['ops deploy lab && ops lab snapshot save demo-converged', 'ops lab snapshot save prod-and-staging   # every env of the lab', 'ops lab snapshot save staging-db --env staging'],
  );
  examples(
    snap
      .command('list')
      .summary('list snapshots: envs, hosts, when, size, whether they can be used')
      .action(
        action(async (ctx) => {
          const { listSnapshots } = await import('../lab/snapshot.js');
          const list = await listSnapshots({ size: true });
          if (ctx.opts.json) {
            for (const s of list) {
              ctx.out.event('snapshot', {
                name: s.name,
                envs: s.manifest?.envs ?? [],
                hosts: s.manifest?.hosts.map((h) => h.name) ?? [],
                created: s.manifest?.created ?? null,
                ops: s.manifest?.ops ?? null,
                size_kib: s.sizeKiB ?? null,
                usable: s.problem === undefined,
                problem: s.problem ?? null,
                in_use: s.inUse.length,
              });
            }
            return;
          }
          if (list.length === 0) {
            ctx.out.info('no lab snapshots (make one with `ops lab snapshot save NAME`)');
            return;
          }
          ctx.out.result(['NAME', 'ENVS', 'HOSTS', 'CREATED (UTC)', 'SIZE', 'STATE'].join('\t'), null); // --json: the events above
          for (const s of list) {
            const size = s.sizeKiB === undefined ? '-' : `${(s.sizeKiB / 1024).toFixed(0)} MiB`;
            const state = s.problem ? `unusable: ${s.problem}` : s.inUse.length > 0 ? `ok, in use by ${s.inUse.length} host(s)` : 'ok';
            ctx.out.result([s.name, s.manifest?.envs.join(',') ?? '-', s.manifest?.hosts.map((h) => h.name).join(',') ?? '-', s.manifest?.created.replace('T', ' ').slice(0, 19) ?? '-', size, state].join('\t'), null);
          }
        }),
      ),
    ['ops lab snapshot list', 'ops --json lab snapshot list'],
  );
  examples(
    snap
      .command('rm')
      .summary('remove a snapshot (refused while a lab host runs on it)')
      .argument('<name>', 'snapshot name')
      .action(
        action(async (ctx, args) => {
          const { removeSnapshot } = await import('../lab/snapshot.js');
          await removeSnapshot({ name: String(args[0]), log: (l) => ctx.out.info(l) });
          ctx.out.event('snapshot_removed', { name: String(args[0]) });
        }),
      ),
    ['ops lab snapshot rm demo-converged'],
  );
}

/** A lab host as its `lab_host` event gives it. */
function labHost(h: LabHostInfo): EventData<'lab_host'> {
  return { env: h.env, name: h.name, address: h.address, state: h.state, release: h.release || null };
}
