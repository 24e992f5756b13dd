/**
 * A project's own roles (the seed's "states specific to this project"): declared under `roles:`
 * in pillar/project.yml, their states listed in a YAML file of the repo, e.g. roles/search.yml:
 *
 *   states:
 *     - apt_repo: {name: elastic, key: roles/elastic.asc, uris: https://…, suites: stable, components: main}
 *     - pkg: [elasticsearch]
 *     - file: {path: /etc/search.conf, template: search/search.conf.njk, mode: "0644", notify: restart-search}
 *     - service: {name: elasticsearch, enabled: true, running: true}
 *     - cmd: {run: "…", creates: /var/lib/x}
 *   handlers:
 *     restart-search: systemctl restart elasticsearch
 */
import { readFileSync, realpathSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { parsePillarText } from '../pillar/source.js';
import type { Handler, State } from '../states/types.js';
import { redactor } from '../ui/redact.js';
import type { RoleBuilder, RoleContext } from './context.js';

const mode = z.union([z.string().regex(/^0?[0-7]{3,4}$/), z.number().int()]).transform((m) => (typeof m === 'number' ? m : parseInt(m, 8)));
const common = { notify: z.string().optional(), requires: z.array(z.string()).optional() };

const stateSchema = z.union([
  z.strictObject({ pkg: z.array(z.string()).min(1) }),
  z.strictObject({ apt_repo: z.strictObject({ name: z.string().regex(/^[a-z0-9-]+$/), key: z.string(), uris: z.string(), suites: z.string(), components: z.string() }) }),
  z.strictObject({
    file: z.strictObject({ path: z.string().startsWith('/'), template: z.string().optional(), content: z.string().optional(), mode: mode.optional(), owner: z.string().default('root'), group: z.string().default('root'), ...common }),
  }),
  z.strictObject({ dir: z.strictObject({ path: z.string().startsWith('/'), mode: mode.default(0o755), owner: z.string().default('root'), group: z.string().default('root'), ...common }) }),
  z.strictObject({ symlink: z.strictObject({ path: z.string().startsWith('/'), target: z.string(), ...common }) }),
  z.strictObject({ user: z.strictObject({ name: z.string(), home: z.string(), shell: z.string().default('/usr/sbin/nologin'), system: z.boolean().default(true), groups: z.array(z.string()).optional() }) }),
  z.strictObject({ group: z.strictObject({ name: z.string(), system: z.boolean().default(true) }) }),
  z.strictObject({ service: z.strictObject({ name: z.string(), enabled: z.boolean().default(true), running: z.boolean().default(true), ...common }) }),
  z.strictObject({ cmd: z.strictObject({ run: z.string(), creates: z.string().optional(), unless: z.string().optional(), onlyif: z.string().optional(), user: z.string().optional(), ...common }) }),
]);

const fileSchema = z.strictObject({ states: z.array(stateSchema).default([]), handlers: z.record(z.string(), z.string()).default({}) });

/** A file of the repo snapshot named by a role: relative, inside it (no `..`, no symbolic link out of it). */
function repoFile(repoRoot: string, rel: string, what: string): string {
  const top = realpathSync(repoRoot);
  const path = resolve(top, rel);
  let real = path;
  try {
    real = realpathSync(path);
  } catch {
    // missing: the caller says so
  }
  if (isAbsolute(rel) || (path !== top && !path.startsWith(`${top}/`)) || (real !== top && !real.startsWith(`${top}/`))) {
    throw new UsageError(`${what} ${rel} is not a file of the repo`, 'name files of the repo with paths relative to its root');
  }
  return path;
}

function load(ctx: RoleContext, repoRoot: string, name: string, file: string) {
  const path = repoFile(repoRoot, file, `role '${name}': its states file`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new UsageError(`role '${name}': its states file ${file} does not exist`, `create it, or fix roles.${name}.states in pillar/project.yml`);
  }
  const src = parsePillarText(text, path, file);
  const parsed = fileSchema.safeParse(src.value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`${file}: ${(issue?.path ?? []).join('.')}: ${issue?.message ?? 'invalid'}`, 'each state is one of pkg, apt_repo, file, dir, symlink, user, group, service, cmd');
  }
  void ctx;
  return parsed.data;
}

/** Builders for the project's roles, reading their files from the repo snapshot at `repoRoot`. */
export function projectRoles(ctx: RoleContext, repoRoot: string): Record<string, RoleBuilder> {
  const builders: Record<string, RoleBuilder> = {};
  for (const [name, decl] of Object.entries(ctx.pillar.roles)) {
    builders[name] = (c) => {
      if (!decl.states) return { states: [] };
      const def = load(c, repoRoot, name, decl.states);
      const states: State[] = [];
      const hid = (h: string) => `handler:${name}:${h}`;
      const extra = (x: { notify?: string; requires?: string[] }) => ({ ...(x.notify ? { notify: [hid(x.notify)] } : {}), ...(x.requires ? { requires: x.requires } : {}) });
      def.states.forEach((s, i) => {
        if ('pkg' in s) states.push({ id: `pkg:${name}:${i}`, kind: 'pkg', params: { names: s.pkg } });
        else if ('apt_repo' in s) {
          const r = s.apt_repo;
          const keyPath = repoFile(repoRoot, r.key, `role '${name}': apt_repo ${r.name}: key file`);
          let key: Buffer;
          try {
            key = readFileSync(keyPath);
          } catch {
            throw new UsageError(`role '${name}': apt_repo ${r.name}: key file ${r.key} not found in the repo`);
          }
          states.push({ id: `apt_repo:${r.name}`, kind: 'apt_repo', params: { ...r, key } });
        } else if ('file' in s) {
          const f = s.file;
          if ((f.template === undefined) === (f.content === undefined)) throw new UsageError(`role '${name}': file ${f.path}: give exactly one of template or content`);
          const content = f.template !== undefined ? c.tpl.render(f.template, { env: c.env, project: c.project, host: c.host, hosts: c.hosts, pillar: c.pillar }) : (f.content ?? '');
          // A file made from a secret of the pillar: no diff of it is ever shown, and only root reads it unless the role says otherwise.
          const secret = redactor.redact(content) !== content;
          states.push({ id: `file:${f.path}`, kind: 'file', params: { path: f.path, content: Buffer.from(content), mode: f.mode ?? (secret ? 0o600 : 0o644), owner: f.owner, group: f.group }, ...(secret ? { secret: true } : {}), ...extra(f) });
        } else if ('dir' in s) states.push({ id: `dir:${s.dir.path}`, kind: 'dir', params: s.dir, ...extra(s.dir) });
        else if ('symlink' in s) states.push({ id: `symlink:${s.symlink.path}`, kind: 'symlink', params: s.symlink, ...extra(s.symlink) });
        else if ('user' in s) states.push({ id: `user:${s.user.name}`, kind: 'user', params: s.user });
        else if ('group' in s) states.push({ id: `group:${s.group.name}`, kind: 'group', params: s.group });
        else if ('service' in s) states.push({ id: `service:${s.service.name}`, kind: 'service', params: s.service, ...extra(s.service) });
        else if ('cmd' in s) {
          const k = s.cmd;
          states.push({ id: `cmd:${name}:${i}`, kind: 'cmd', params: { run: { line: k.run }, creates: k.creates, unless: k.unless, onlyif: k.onlyif, user: k.user, describe: k.run }, ...extra(k) });
        }
      });
      const handlers: Handler[] = Object.entries(def.handlers).map(([h, line]) => ({ id: hid(h), describe: line, run: { line } }));
      return { states, handlers };
    };
  }
  return builders;
}
