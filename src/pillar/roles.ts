/** The built-in roles and their Salt-era aliases (no schema code: shell completion reads these). */
export const BUILTIN_ROLES = ['master', 'web', 'worker', 'balancer', 'db', 'queue', 'cache'] as const;
export type BuiltinRole = (typeof BUILTIN_ROLES)[number];
export const ROLE_ALIASES: Readonly<Record<string, BuiltinRole>> = { 'salt-master': 'master', 'db-master': 'db' };
