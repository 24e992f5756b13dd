/** `ops generate-secret`: a random value, printed (in --json, only in a value event's field). Loads no OpenPGP, SSH or schema code. */
import { UsageError } from '../../errors.js';
import { alphabetOption, DEFAULT_SECRET_LENGTH, generateSecret } from '../../secrets/random.js';
import { intOption, type Handler } from '../command.js';

export const generateSecretCommand: Handler = async (ctx, args, opts) => {
  if (args.length > 0) throw new UsageError(`unexpected argument '${args[0]}'`);
  const length = intOption(opts.length, '--length', 1, 65536) ?? DEFAULT_SECRET_LENGTH;
  const value = generateSecret(length, alphabetOption(opts.alphabet));
  ctx.out.revealed({ length }, value, () => process.stdout.write(`${value}\n`));
};
