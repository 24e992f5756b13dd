/** Commands ops runs on a master for itself (hidden from --help). */
import type { Command } from 'commander';
import { checkEnvironmentName } from '../pillar/forms.js';
import { action } from './command.js';

/** The environment named by the operator's ops: checked again here, before it names a path on the master. */
function envArg(v: unknown): string {
  const env = String(v ?? '');
  checkEnvironmentName(env);
  return env;
}

export function registerInternalCommands(program: Command): void {
  program
    .command('__master-key', { hidden: true })
    .argument('<env>')
    .argument('<project>')
    .option('--expect <fingerprint>')
    .option('--adopt-salt')
    .option('--remove-salt')
    .action(
      action(async (_ctx, args, opts) => {
        const { ensureMasterKeys } = await import('../converge/master-key.js');
        const keys = await ensureMasterKeys(envArg(args[0]), String(args[1]), {
          ...(typeof opts.expect === 'string' ? { expect: opts.expect } : {}),
          adoptSalt: opts.adoptSalt === true,
          removeSalt: opts.removeSalt === true,
        });
        process.stdout.write(`${JSON.stringify(keys)}\n`);
      }),
    );
  program
    .command('__converge', { hidden: true })
    .argument('<env>')
    .option('--dry-run')
    .option('--only <role|host>')
    .option('--branch <branch>')
    .option('--no-release')
    .option('--wait-lock <seconds>')
    .option('--force-unlock')
    .option('--maintenance <message>')
    .option('--by <who>')
    .option('--operator-channel')
    .action(
      action(async (ctx, args, opts) => {
        const { convergeFromSnapshot } = await import('../converge/run.js');
        return convergeFromSnapshot(ctx.out, {
          env: envArg(args[0]),
          dryRun: opts.dryRun === true,
          only: opts.only as string | undefined,
          branch: opts.branch as string | undefined,
          noRelease: opts.release === false,
          waitLock: opts.waitLock === undefined ? undefined : Number(opts.waitLock),
          forceUnlock: opts.forceUnlock === true,
          maintenance: opts.maintenance as string | undefined,
          by: opts.by as string | undefined,
          operatorChannel: opts.operatorChannel === true,
        });
      }),
    );
  program
    .command('__acme-renew', { hidden: true })
    .argument('<env>')
    .option('--force')
    .action(
      action(async (ctx, args, opts) => {
        const { renewOnMaster } = await import('../tls/renew.js');
        return renewOnMaster(ctx.out, envArg(args[0]), opts.force === true);
      }),
    );
  program
    .command('__task', { hidden: true })
    .argument('<env>')
    .action(
      action(async (ctx, args) => {
        const { taskOnMaster } = await import('../tasks/run.js');
        return taskOnMaster(ctx.out, envArg(args[0]));
      }),
    );
  program
    .command('__releases', { hidden: true })
    .argument('<env>')
    .action(
      action(async (_ctx, args) => {
        const { readHistory } = await import('../release/history.js');
        const { MASTER_WORK } = await import('../converge/paths.js');
        process.stdout.write(`${JSON.stringify(readHistory(`${MASTER_WORK}/${envArg(args[0])}`))}\n`);
      }),
    );
  program
    .command('__rollback', { hidden: true })
    .argument('<env>')
    .option('--to <release>')
    .option('--check')
    .option('--by <who>')
    .action(
      action(async (ctx, args, opts) => {
        const { rollbackFromSnapshot } = await import('../release/rollback.js');
        return rollbackFromSnapshot(ctx.out, { env: envArg(args[0]), to: opts.to as string | undefined, check: opts.check === true, by: String(opts.by ?? 'unknown') });
      }),
    );
  program
    .command('__decrypt', { hidden: true })
    .argument('<env>')
    .argument('[names...]')
    .action(
      action(async (_ctx, args) => {
        const { decryptOnMaster } = await import('../converge/master-secrets.js');
        const [env, ...names] = args;
        process.stdout.write(`${JSON.stringify(await decryptOnMaster(envArg(env), names))}\n`);
      }),
    );
  program
    .command('__rekey', { hidden: true })
    .argument('<step>', 'prepare | commit')
    .argument('<env>')
    .argument('[arg]', 'project (prepare) or fingerprint (commit)')
    .option('--keep-key', 'prepare: re-encrypt to the current key (only the recovery keys change)')
    .action(
      action(async (_ctx, args, opts) => {
        const m = await import('../converge/master-secrets.js');
        const [step, env, arg] = args;
        if (step === 'prepare') process.stdout.write(`${JSON.stringify(await m.rekeyPrepare(envArg(env), String(arg ?? 'ops'), opts.keepKey === true))}\n`);
        else await m.rekeyCommit(envArg(env), String(arg));
      }),
    );
}
