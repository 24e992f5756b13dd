/** Servers and converge: setup-master, setup-minion, add-role, deploy. */
import { Option, type Command } from 'commander';
import { action, examples, lazy } from './command.js';
import { addConnectionOptions } from './remote.js';

const actions = () => import('./actions/provision.js');

export function registerProvisionCommands(program: Command): void {
  examples(
    addConnectionOptions(
      program
        .command('deploy')
        .summary('converge every server of an environment (through its master)')
        .description(
          "Sends pillar/ and templates/ to the environment's master, which decrypts the secrets (failing closed), renders each minion's states from its roles and converges all minions over SSH — data services first, then app servers, then balancers. Then it releases the app: fetch at the environment's branch, build a release on every web and worker host, migrate once, switch `current` atomically (batch by batch with `releases.batch`, each batch out of the balancers and checked on its own), reload gracefully and check health through the balancer (switching back when that fails). An unchanged commit makes no release. One deploy at a time per environment (a lock on the master). Changed and failed states stream back; a summary per host follows. Exit 1 if any state, host, hook or the release failed.\n\nHooks (`hooks:` in pillar/project.yml) run in this order, with the deploy lock held: before_deploy → converge → after_converge → build → migrations → before_switch → switch → health check → after_release (after_rollback when the release is switched back). A task hook runs on this machine; a shell line on the hosts of its role, as the app user in the release directory. A hook that fails before the switch stops the deploy with the previous release serving; one that fails after it (after_release, after_rollback) is reported and the deploy exits 1 — nothing is switched back for it. --dry-run changes nothing and says what the deploy would do: the states that would change (with diffs), the handlers they would set off, the hooks, and whether a release would be made (which commit, migrations, batches).",
        )
        .argument('[env]', 'environment')
        .option('--dry-run', 'show the plan (with file diffs, secrets hidden) and change nothing')
        .option('--role <role>', 'only hosts with this role')
        .option('--host <name>', 'only this host')
        .addOption(new Option('--only <role|host>', 'deprecated: --role or --host').hideHelp())
        .option('--branch <branch>', 'release this branch instead of the pillar one')
        .option('--no-release', 'converge the servers only; do not release the app')
        .option('--wait-lock [seconds]', 'wait for a running deploy of the environment to finish (default: 600 s)')
        .option('--force-unlock', 'break a stale deploy lock (one whose deploy is gone)')
        .option('--maintenance [message]', 'maintenance mode (ops maintenance) from before the migrations until the health check passes or the release is switched back: for migrations the running release cannot live with')
        .option('-v, --verbose', 'also list states that needed no change'),
    ).action(action(lazy(actions, 'deploy'))),
    [
      'ops deploy staging',
      'ops deploy staging --dry-run',
      'ops deploy production --role web',
      'ops deploy staging --host staging-db-1',
      'ops deploy staging --branch feature/login',
      'ops deploy production --wait-lock 300',
      'ops deploy production --maintenance "Upgrading, back in 5 minutes"',
      'ops deploy staging --no-release          # servers only',
      'ops deploy staging --dry-run             # also the handlers, hooks and release it would run',
    ],
  );
  examples(
    addConnectionOptions(
      program
        .command('setup-master')
        .summary("make a host the environment's master (holds its private key)")
        .description(
          "First contact: prints and pins the host key (--fingerprint checks it against one you verified out of band), installs the distro's Node.js and the ops bundle, makes the environment's OpenPGP keypair on the master (the private key never leaves it; the public key goes to pillar/keys/<env>.asc) and the master's SSH key, and records the master in the inventory. Safe to re-run; never replaces a key.\n\nWith --recover, the host replaces a master that is gone: every encrypted value is first read in memory with one recovery key (pillar/keys/<env>.recovery/; its private half in your GnuPG — agent or smartcard — or --key FILE), nothing changes if that fails; then the host is made the master with a new key, every value is re-encrypted to it and the recovery keys, the public keys, pin and inventory record are replaced, and each minion authorizes the new master instead of the old one. Values the recovery key cannot read are named, with the command to enter each again.\n\nComing from the Caktus template (after `ops import salt`): on the environment's Salt master, --adopt-salt takes the environment's private key from Salt's GnuPG home into ops's key store on that host — it never leaves it, and every existing ciphertext decrypts there. The key must be the one of pillar/keys/<env>.pub.gpg, or nothing changes. Salt's files stay until --remove-salt, which removes Salt's GnuPG home once every key in it is ops's, and nothing else.",
        )
        .argument('[env]', 'environment')
        .option('-H, --host <address>', 'address of the new master')
        .option('-p, --port <port>', 'SSH port (default: 22)')
        .option('--name <name>', 'inventory name (default: <env>-master)')
        .option('--fingerprint <SHA256:...>', 'expected host key fingerprint, verified out of band')
        .option('--recover', "replace a master that is gone: the values are read with a recovery key and re-encrypted to the new master's key; minions are told")
        .option('--key <file>', 'with --recover: the recovery private key as a file (default: your GnuPG, which keeps the key)')
        .option('-y, --yes', 'with --recover: go on when some values cannot be recovered')
        .option('--adopt-salt', "on a Salt master: take the environment's private key from Salt's GnuPG home (/etc/salt/gpgkeys) into ops's key store on the same host; it must be the key of pillar/keys/<env>.pub.gpg")
        .option('--remove-salt', "remove Salt's GnuPG home from the master once every key in it is in ops's key store (nothing else of Salt's)"),
    ).action(action(lazy(actions, 'setupMaster'))),
    [
      'ops setup-master staging -H 203.0.113.10 -u root',
      'ops setup-master staging -H 203.0.113.10 --fingerprint SHA256:3f…',
      'ops setup-master lab -H 10.200.1.10',
      '# the master died: a new machine takes its place, secrets read with your recovery key in GnuPG',
      'ops setup-master production -H 203.0.113.20 --recover --fingerprint SHA256:9c…',
      "# a Caktus-template project's Salt master keeps its key; Salt's copy removed later",
      'ops setup-master staging -H 203.0.113.30 --adopt-salt',
      'ops setup-master staging -H 203.0.113.30 --remove-salt',
    ],
  );
  examples(
    addConnectionOptions(
      program
        .command('setup-minion')
        .summary('provision a host with roles (web, worker, balancer, db, queue, cache)')
        .description(
          "First contact (host key printed and pinned), authorizes the master's SSH key on the host, records its name, address and roles in the inventory (comments kept) and writes /etc/ops/minion.yml there. The next `ops deploy` converges it.",
        )
        .argument('[env]', 'environment')
        .argument('[roles]', 'comma-separated roles')
        .option('-H, --host <address>', 'address of the new minion')
        .option('-p, --port <port>', 'SSH port (default: 22)')
        .option('--name <name>', "inventory name (default: the host's own short hostname)")
        .option('--fingerprint <SHA256:...>', 'expected host key fingerprint, verified out of band'),
    ).action(action(lazy(actions, 'setupMinion'))),
    ['ops setup-minion staging web,balancer,db,cache -H 203.0.113.11 -u root', 'ops setup-minion lab db,queue -H 10.200.1.11'],
  );
  examples(
    addConnectionOptions(
      program
        .command('add-role')
        .summary('add a role to a provisioned host')
        .description('Records the role in the inventory and on the host. Roles are only ever added: removing one from the pillar does not undo what it installed.')
        .argument('[env]', 'environment')
        .argument('[role]', 'role to add')
        .option('-H, --host <host>', 'host name or address'),
    ).action(action(lazy(actions, 'addRole'))),
    ['ops add-role staging worker -H 203.0.113.11'],
  );
}
