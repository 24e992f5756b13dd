/** PostgreSQL roles and databases, managed through the local `postgres` superuser. */
import type { Plan, StateKind } from '../types.js';
import { kv, q } from '../facts-format.js';
import { scramMatches, scramVerifier } from '../scram.js';
import { redactor } from '../../ui/redact.js';

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

function ident(name: string): string {
  if (!IDENT.test(name)) throw new Error(`not a safe PostgreSQL identifier: ${name}`);
  return name;
}

/** Runs SQL given on stdin as the postgres superuser (SQL never goes into a command line). */
const PSQL = ['runuser', '-u', 'postgres', '--', 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'postgres'];

function query(sql: string): string {
  return `if command -v psql >/dev/null 2>&1 && runuser -u postgres -- pg_isready -q 2>/dev/null; then printf '%s' ${q(sql)} | runuser -u postgres -- psql -X -q -t -A -d postgres; else echo pg=down; fi`;
}

export interface PgRoleParams {
  name: string;
  password: string;
}

export const pgRole: StateKind<PgRoleParams> = {
  facts: (p) => query(`SELECT 'verifier=' || coalesce(rolpassword, '') FROM pg_authid WHERE rolname = '${ident(p.name)}';`),
  plan(p, f): Plan {
    const facts = kv(f.out);
    if (f.out.includes('pg=down')) return { status: 'unknown', summary: 'PostgreSQL is not running yet', steps: [] };
    const verb = facts.verifier === undefined ? 'CREATE' : 'ALTER';
    if (facts.verifier !== undefined && scramMatches(facts.verifier, p.password)) return { status: 'ok', summary: 'exists, password current', steps: [] };
    const verifier = scramVerifier(p.password);
    redactor.add(verifier);
    const sql = `${verb} ROLE ${ident(p.name)} LOGIN PASSWORD '${verifier}';\n`;
    return {
      status: 'change',
      summary: verb === 'CREATE' ? 'create role' : 'set password',
      steps: [{ run: { argv: PSQL }, stdin: Buffer.from(sql), describe: `${verb.toLowerCase()} role ${p.name}` }],
    };
  },
};

export interface PgDatabaseParams {
  name: string;
  owner: string;
}

export const pgDatabase: StateKind<PgDatabaseParams> = {
  facts: (p) => query(`SELECT 'owner=' || pg_get_userbyid(datdba) FROM pg_database WHERE datname = '${ident(p.name)}';`),
  plan(p, f): Plan {
    if (f.out.includes('pg=down')) return { status: 'unknown', summary: 'PostgreSQL is not running yet', steps: [] };
    const owner = kv(f.out).owner;
    if (owner === p.owner) return { status: 'ok', summary: `exists, owned by ${owner}`, steps: [] };
    const sql = owner === undefined ? `CREATE DATABASE ${ident(p.name)} OWNER ${ident(p.owner)} ENCODING 'UTF8' TEMPLATE template0;\n` : `ALTER DATABASE ${ident(p.name)} OWNER TO ${ident(p.owner)};\n`;
    return { status: 'change', summary: owner === undefined ? 'create database' : `owner ${owner} → ${p.owner}`, steps: [{ run: { argv: PSQL }, stdin: Buffer.from(sql) }] };
  },
};
