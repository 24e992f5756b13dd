/**
 * Where a PostgreSQL server runs and how ops talks to it as its superuser: a db host over SSH
 * (`sudo -u postgres`, peer authentication), or the operator's own machine (as `postgres` when
 * ops runs as root, else as the operator's user).
 */
import { userInfo } from 'node:os';
import { OperationError } from '../errors.js';
import { captureExec, renderCommand } from '../ssh/command.js';
import type { Connection } from '../ssh/connection.js';
import { psqlArgv } from './pg.js';
import { localProc, remoteProc, type Proc } from './stream.js';

export interface PgHost {
  /** For messages: the host name, or `this machine`. */
  readonly name: string;
  /** Runs SQL (on psql's stdin) in `db`; returns the rows, fields split on tabs. */
  sql(sql: string, db?: string): Promise<string[][]>;
  /** Starts a PostgreSQL program as the superuser. */
  start(argv: readonly string[], what: string): Promise<Proc>;
}

function rows(out: string): string[][] {
  return out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('\t'));
}

function firstLines(err: string): string {
  const t = err.trim().split('\n').slice(0, 2).join(' | ');
  return t === '' ? '' : `: ${t}`;
}

/** A PostgreSQL program as the `postgres` superuser, for a host logged in to as `loginUser`. */
export function postgresLine(loginUser: string, argv: readonly string[]): string {
  // From /, which postgres may enter (the login user's home it may not: pg_dump warns).
  return renderCommand({ argv }, { sudo: 'postgres', cwd: '/' }, { loginUser });
}

export function remotePg(conn: Connection): PgHost {
  const line = (argv: readonly string[]) => postgresLine(conn.user, argv);
  return {
    name: conn.target.name,
    async sql(sql, db) {
      const r = await captureExec(conn, line(psqlArgv(db)), Buffer.from(sql));
      if (r.code !== 0) throw new OperationError(`${conn.target.name}: psql failed${firstLines(r.err)}`);
      return rows(r.out.toString('utf8'));
    },
    start: (argv, what) => remoteProc(conn, line(argv), `${what} on ${conn.target.name}`),
  };
}

/** The operator's machine; `libpq`'s PG* variables (PGHOST, PGPORT…) apply as usual. */
export function localPg(): PgHost {
  const asSuper = (argv: readonly string[]) => (userInfo().uid === 0 ? ['runuser', '-u', 'postgres', '--', ...argv] : [...argv]);
  return {
    name: 'local',
    async sql(sql, db) {
      const p = localProc(asSuper(psqlArgv(db)), 'local psql');
      let out = '';
      p.stdout?.on('data', (b: Buffer) => (out += b.toString('utf8')));
      p.stdin?.end(sql);
      await p.done;
      return rows(out);
    },
    start: async (argv, what) => localProc(asSuper(argv), `local ${what}`),
  };
}
