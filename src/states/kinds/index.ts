/** Every kind of state the engine knows, by name. */
import type { StateKind } from '../types.js';
import { admins, group, user } from './accounts.js';
import { cmd } from './commands.js';
import { absent, dir, file, symlink } from './files.js';
import { aptRepo, pkg } from './packages.js';
import { pgDatabase, pgRole } from './postgres.js';
import { service, unit } from './services.js';
import { block, line } from './text.js';
import { htpasswd } from './htpasswd.js';
import { rabbitAccess } from './rabbitmq.js';

export const KINDS: Record<string, StateKind<never>> = {
  pkg,
  apt_repo: aptRepo,
  file,
  dir,
  symlink,
  absent,
  user,
  group,
  admins,
  service,
  unit,
  cmd,
  block,
  line,
  htpasswd,
  rabbitmq_access: rabbitAccess,
  pg_role: pgRole,
  pg_db: pgDatabase,
} as unknown as Record<string, StateKind<never>>;
