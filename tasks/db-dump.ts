// Streams a dump of the environment's database (pg_dump's custom format) to a file on this
// machine, straight from the db host: nothing is kept on the server.
//   ops task db-dump production --out prod.dump
//   pg_restore --list prod.dump     (a pg_restore as new as the server's PostgreSQL)
import { createWriteStream, existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { defineTask } from 'ops';

export default defineTask({
  name: 'db-dump',
  description: "stream a pg_dump of the environment's database to a local file",
  options: {
    out: { type: 'string', short: 'o', description: 'file to write (default: <project>-<env>-<UTC time>.dump)' },
    force: { type: 'boolean', description: 'replace the file when it exists' },
  },
  async run(t) {
    const [db] = t.hosts({ role: 'db' });
    if (!db) throw new Error(`'${t.env}' has no db host`);
    const database = `${t.project}_${t.env}`.replace(/-/g, '_');
    const out = String(t.options.out ?? `${t.project}-${t.env}-${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}.dump`);
    if (existsSync(out) && !t.options.force) throw new Error(`${out} exists (give --force to replace it)`);
    // Written beside the target and renamed at the end: a failed dump never leaves a truncated file.
    const partial = `${out}.partial`;
    t.info(`${db.name}: dumping ${database} to ${out}`);
    try {
      await db.sudo(['runuser', '-u', 'postgres', '--', 'pg_dump', '--format=custom', '--no-owner', '--', database], { stdout: createWriteStream(partial, { mode: 0o600 }) });
      renameSync(partial, out);
    } finally {
      rmSync(partial, { force: true });
    }
    t.result(`${out} (${statSync(out).size} bytes)`);
    t.event('dump', { host: db.name, database, file: out, bytes: statSync(out).size });
  },
});
