/** Secret commands: encrypt, decrypt, keygen, rekey, generate-secret, deploy-key. */
import type { Command } from 'commander';
import { ALPHABETS, DEFAULT_SECRET_LENGTH } from '../secrets/random.js';
import { action, examples, lazy } from './command.js';
import { collect } from './remote.js';

export function registerSecretCommands(program: Command): void {
  examples(
    program
      .command('encrypt')
      .summary("encrypt values (or a file) to an environment's public key")
      .description(
        'Encrypts each KEY=value to the environment key and prints a YAML snippet for `secrets:` (or writes it with --write).\n' +
          'Safer than KEY=value (which lands in shell history): KEY alone asks without echo, or reads stdin; --generate makes a random value that never leaves ops.',
      )
      .argument('[env]', 'environment')
      .argument('[entries...]', 'KEY=value, KEY (ask / stdin) or KEY=- (stdin)')
      .option('-g, --generate [length]', `encrypt a fresh random value for each KEY of this length (default: ${DEFAULT_SECRET_LENGTH})`)
      .option('--alphabet <name>', `characters for --generate: ${Object.keys(ALPHABETS).join(', ')}`, 'alnum')
      .option('-f, --file <path>', 'encrypt a file: writes PATH.asc (or use -o -); with one KEY, becomes that secret')
      .option('-o, --output <path>', 'with --file: where to write the armored message (- for stdout)')
      .option('-w, --write', 'insert or replace the entries under secrets: in the pillar file')
      .action(action(lazy(() => import('./actions/secrets.js'), 'encrypt'))),
    [
      'ops encrypt staging SECRET_KEY --generate 64 --write',
      'ops encrypt staging DB_PASSWORD            # asks without echo (or reads stdin)',
      'pass show db | ops encrypt staging DB_PASSWORD=- --write',
      'ops encrypt staging admin=s3cret           # value in argv: your choice, visible in history',
      'ops encrypt staging deploy_key --file staging.priv --write',
      'ops encrypt staging --file staging.priv    # writes staging.priv.asc',
    ],
  );

  examples(
    program
      .command('decrypt')
      .summary('print decrypted secrets of an environment (operator-held key)')
      .description(
        'Decrypts the chosen (or all) encrypted values of the environment. One KEY prints the bare value; several print YAML. Fails closed: a value that does not decrypt is an error (exit 2).',
      )
      .argument('[env]', 'environment')
      .argument('[keys...]', 'secret names (KEY under secrets:, or a dotted path)')
      .option('-k, --key <file>', 'private key file (else OPS_KEY_FILE, else .ops/keys/<env>.key, else decrypt on the master)')
      .action(action(lazy(() => import('./actions/secrets.js'), 'decrypt'))),
    ['ops decrypt staging DB_PASSWORD       # decrypted on the master, which holds the key', 'ops decrypt local SECRET_KEY --key .ops/keys/local.key', 'OPS_KEY_FILE=~/keys/local.key ops decrypt local DB_PASSWORD'],
  );

  examples(
    program
      .command('keygen')
      .summary('new OpenPGP keypair for an environment whose key you hold (lab, local)')
      .description(
        'Makes a keypair for the environment: the public key goes to pillar/keys/<env>.asc, the private key to a 0600 file outside pillar/ (default: .ops/keys/<env>.key). Refuses to overwrite. Real environments get their key made on their master by setup-master.',
      )
      .argument('[env]', 'environment')
      .option('--private-key <file>', 'where to write the private key')
      .option('--passphrase', 'protect the private key with a passphrase (asked, or OPS_KEY_PASSPHRASE)')
      .option('--rsa', 'RSA-3072 instead of Curve25519')
      .action(action(lazy(() => import('./actions/secrets.js'), 'keygen'))),
    ['ops keygen lab', 'ops keygen local --passphrase --private-key ~/.config/ops/local.key'],
  );

  examples(
    program
      .command('rekey')
      .summary('re-encrypt every secret of an environment: a new key, or recovery keys added or removed (atomic)')
      .description(
        "Decrypts every encrypted value of the environment where its key is (the master, or the key file given) and re-encrypts it to the environment key and the recovery keys in pillar/keys/<env>.recovery/ — all files or none. " +
          'Without options a master-held environment gets a new key made on the master (the old one is kept there, retired). --add-recipient / --remove-recipient change the recovery keys and keep the environment key. ' +
          'An interrupted rekey is finished by running the same command again.',
      )
      .argument('[env]', 'environment')
      .option('-k, --key <file>', 'current private key (else OPS_KEY_FILE, else .ops/keys/<env>.key; none: the master does it)')
      .option('--to <public-key>', 'new public key file (armored or binary), for operator-held keys')
      .option('--add-recipient <file...>', 'add a recovery key (an OpenPGP public key file, e.g. from gpg --export --armor FPR)', collect)
      .option('--remove-recipient <fingerprint...>', 'remove the recovery key with this fingerprint (or long key id)', collect)
      .option('--keep-key', 'keep the environment key: only re-encrypt to the recipients listed now (what `ops secrets audit` asks for)')
      .action(action(lazy(() => import('./actions/secrets.js'), 'rekey'))),
    [
      'ops rekey staging                      # master-held key: a new key is made on the master',
      'gpg --export --armor alice@example.com > alice.asc',
      'ops rekey production --add-recipient alice.asc',
      'ops rekey production --remove-recipient 0123456789ABCDEF0123456789ABCDEF01234567',
      'ops rekey production --keep-key        # re-encrypt to the listed recipients, same key',
      'ops rekey local --key .ops/keys/local.key --to new-local.asc',
    ],
  );

  const secrets = examples(
    program
      .command('secrets')
      .summary("who can read an environment's secrets")
      .description("Each secret in the pillar is an OpenPGP message of its own, encrypted to the environment's key and to its recovery keys (pillar/keys/<env>.recovery/). These commands read the messages, never their plaintext."),
    ['ops secrets audit production'],
  );
  examples(
    secrets
      .command('audit')
      .summary('list the keys each encrypted value is encrypted to, flagging missing or unknown recipients')
      .description(
        "Reads the key ids of each value's OpenPGP message (no private key needed) and compares them with the environment key and its recovery keys (pillar/keys/<env>.recovery/*.asc). " +
          'A value that misses a current recipient, or is encrypted to a key no longer listed, is flagged; exit 1 when one is.',
      )
      .argument('[env]', 'environment')
      .action(action(lazy(() => import('./actions/secrets.js'), 'secretsAudit'))),
    ['ops secrets audit production', 'ops --json secrets audit production | jq \'select(.type == "secret" and .ok == false)\''],
  );

  examples(
    program
      .command('generate-secret')
      .summary('print a cryptographically random secret')
      .option('-l, --length <n>', 'length', String(DEFAULT_SECRET_LENGTH))
      .option('--alphabet <name>', `${Object.keys(ALPHABETS).join(', ')}`, 'alnum')
      .action(action(lazy(() => import('./actions/generate-secret.js'), 'generateSecretCommand'))),
    ['ops generate-secret', 'ops generate-secret --length 64 --alphabet hex', '# safer: let the value never leave ops', 'ops encrypt staging SECRET_KEY --generate 64 --write'],
  );

  examples(
    program
      .command('deploy-key')
      .summary('new SSH deploy key: public part to pillar/keys, private part encrypted into secrets')
      .description(
        "Generates an ed25519 keypair in memory. The public key is written to pillar/keys/<env>.deploy.pub (add it to your git host's deploy keys); the private key is encrypted to the environment and written as secrets.deploy_key (--write) or printed as a snippet. No plaintext private key touches the disk.",
      )
      .argument('[env]', 'environment')
      .option('-w, --write', 'write the encrypted private key into the pillar as secrets.deploy_key')
      .option('--force', 'replace an existing deploy key')
      .action(action(lazy(() => import('./actions/secrets.js'), 'deployKey'))),
    ['ops deploy-key staging --write', 'ops deploy-key production > deploy-key-snippet.yml'],
  );
}

