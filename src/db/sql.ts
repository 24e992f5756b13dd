/**
 * The SQL of database operations, as text fed to psql on stdin (never in a command line).
 * Names are quoted here, by `ident` and `literal`, and nowhere else.
 */

/** A PostgreSQL identifier, always double-quoted. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A PostgreSQL string literal (standard_conforming_strings is on since 9.1). */
export function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** Databases, one name per line. */
export const LIST_DATABASES = 'SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1;';

/** `size\tencoding` of a database, or no row when it does not exist. */
export function describeSql(db: string): string {
  return `SELECT pg_database_size(datname), pg_encoding_to_char(encoding) FROM pg_database WHERE datname = ${literal(db)};`;
}

export function roleExistsSql(role: string): string {
  return `SELECT 1 FROM pg_roles WHERE rolname = ${literal(role)};`;
}

/** An empty database to restore into, owned by the app's role (when there is one). */
export function createSql(db: string, opts: { owner?: string; encoding?: string }): string {
  const owner = opts.owner ? ` OWNER ${ident(opts.owner)}` : '';
  const encoding = opts.encoding ? ` ENCODING ${literal(opts.encoding)}` : '';
  return `CREATE DATABASE ${ident(db)}${owner} TEMPLATE template0${encoding};`;
}

/** Drops a database even while sessions (a restore still running) hold it. */
export function dropSql(db: string): string {
  return `DROP DATABASE IF EXISTS ${ident(db)} WITH (FORCE);`;
}

/**
 * Gives everything the restore (and a sanitize script) made in the new database to the app's
 * role: schemas, tables (with their indexes and owned sequences), views, other sequences,
 * functions and types — but not what belongs to extensions or the system. Run in that database.
 */
export function ownershipSql(role: string): string {
  return `DO $ops$
DECLARE r record; target text := ${literal(role)};
BEGIN
  FOR r IN SELECT n.nspname FROM pg_namespace n
    WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
      AND pg_get_userbyid(n.nspowner) NOT IN (target, 'pg_database_owner')
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e')
  LOOP EXECUTE format('ALTER SCHEMA %I OWNER TO %I', r.nspname, target); END LOOP;
  FOR r IN SELECT c.oid::regclass AS obj, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
      AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND pg_get_userbyid(c.relowner) <> target
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('e', 'a', 'i'))
    ORDER BY c.relkind = 'S'
  LOOP
    EXECUTE format(CASE r.relkind WHEN 'v' THEN 'ALTER VIEW %s OWNER TO %I' WHEN 'm' THEN 'ALTER MATERIALIZED VIEW %s OWNER TO %I'
      WHEN 'f' THEN 'ALTER FOREIGN TABLE %s OWNER TO %I' WHEN 'S' THEN 'ALTER SEQUENCE %s OWNER TO %I' ELSE 'ALTER TABLE %s OWNER TO %I' END, r.obj, target);
  END LOOP;
  FOR r IN SELECT p.oid::regprocedure AS obj FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema' AND pg_get_userbyid(p.proowner) <> target
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
  LOOP EXECUTE format('ALTER ROUTINE %s OWNER TO %I', r.obj, target); END LOOP;
  FOR r IN SELECT t.oid::regtype AS obj FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema' AND t.typtype IN ('e', 'd', 'r', 'm')
      AND pg_get_userbyid(t.typowner) <> target
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')
  LOOP EXECUTE format('ALTER TYPE %s OWNER TO %I', r.obj, target); END LOOP;
END $ops$;`;
}

/**
 * The swap, in one transaction: sessions on the live database are ended (the app is stopped by
 * then), the live one is renamed to `keepAs` (when it exists) and the new one takes its name.
 * If anything fails, nothing is renamed.
 */
export function swapSql(live: string, incoming: string, keepAs: string | undefined): string {
  const lines = [
    `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname IN (${literal(live)}, ${literal(incoming)}) AND pid <> pg_backend_pid();`,
    'BEGIN;',
  ];
  if (keepAs) lines.push(`ALTER DATABASE ${ident(live)} RENAME TO ${ident(keepAs)};`);
  lines.push(`ALTER DATABASE ${ident(incoming)} RENAME TO ${ident(live)};`, 'COMMIT;');
  return lines.join('\n');
}
