/**
 * `faas keys create|list|revoke` (API keys and their roles; admin only) and `faas audit` (the
 * append-only record of every write: who, what, before, after, when).
 */
import { Option, type Command } from 'commander';
import type { ApiKeyInfo, AuditRecord, Role } from '../control-plane/core/types.ts';
import { collectList, parsePositiveInt } from './args.ts';
import { withConnection } from './connection.ts';
import { err, json, out, table, truncate } from './output.ts';
import { describeActor } from './login-commands.ts';

const ROLES: readonly Role[] = ['admin', 'developer', 'viewer'];
/** The audit API's default page size (`listAudit` in control-plane/core/control-plane.ts). */
const DEFAULT_AUDIT_LIMIT = 100;

function appsCell(apps: ApiKeyInfo['apps']): string {
  return apps === '*' ? '*' : apps.join(',');
}

/** `- → {"value":"a"}`, version ids cut to 12 characters as elsewhere, shortened to one table cell. */
function changeCell(entry: AuditRecord): string {
  const show = (value: unknown): string => (value === null || value === undefined ? '-' : JSON.stringify(value).replace(/"([0-9a-f]{12})[0-9a-f]{8}"/g, '"$1"'));
  return truncate(`${show(entry.before)} → ${show(entry.after)}`, 80);
}

function whereCell(entry: AuditRecord): string {
  const path = [entry.app, entry.function].filter((part) => part !== null).join('/');
  if (entry.target === null) return path === '' ? '-' : path;
  return path === '' ? entry.target : `${path} ${entry.target}`;
}

/** Register `keys` and `audit` on `program`. */
export function registerAdminCommands(program: Command): void {
  const keys = program
    .command('keys')
    .description('API keys and their roles: admin (everything), developer (its apps), viewer (read only) — admin keys only');

  keys
    .command('create')
    .description('create an API key; its secret goes to stdout, once (the platform keeps only a hash)')
    .argument('<name>', 'who or what uses the key; shown as the author of deploys and in the audit log')
    .addOption(new Option('--role <role>', 'what the key may do').choices(ROLES).makeOptionMandatory())
    .option('--app <app>', 'an app the key may act on; repeat or comma-separate for several, * for all (admins always get all)', collectList)
    .option('--json', 'print the API\'s JSON: { key: { id, name, role, apps, createdAt, revokedAt }, secret }')
    .addHelpText('after', '\nExamples:\n  faas keys create ci-shop --role developer --app shop\n  KEY=$(faas keys create dashboards --role viewer --app "*")')
    .action(withConnection(async (conn, name: string, opts: { role: Role; app?: string[]; json?: boolean }) => {
      const apps = opts.app === undefined ? undefined : opts.app.includes('*') ? '*' : opts.app;
      const created = await conn.client.createKey({ name, role: opts.role, apps });
      if (opts.json === true) {
        json(created);
        return;
      }
      err(`created key ${created.key.id} "${created.key.name}" (${describeActor(created.key)}); its secret follows, shown only this once:\n`);
      out(`${created.secret}\n`);
    }));

  keys
    .command('list')
    .description('list API keys (never their secrets)')
    .option('--json', 'print the API\'s JSON: { keys: [{ id, name, role, apps, createdAt, revokedAt }] }')
    .action(withConnection(async (conn, opts: { json?: boolean }) => {
      const list = await conn.client.listKeys();
      if (opts.json === true) {
        json({ keys: list });
        return;
      }
      out(table(['ID', 'NAME', 'ROLE', 'APPS', 'CREATED', 'REVOKED'], list.map((key) => [key.id, key.name, key.role, appsCell(key.apps), key.createdAt, key.revokedAt ?? '-'])));
    }));

  keys
    .command('revoke')
    .description('revoke an API key at once (it stays listed, with its revocation time)')
    .argument('<id>', 'key id, as shown by `faas keys list`')
    .action(withConnection(async (conn, id: string) => {
      const key = await conn.client.revokeKey(id);
      out(`revoked key ${key.id} "${key.name}" (${key.role})\n`);
    }));

  program
    .command('audit')
    .description('the audit log, newest first: who changed what, before and after (admins see all, others their apps)')
    .option('--app <app>', 'only records of this app')
    .option('-n, --limit <n>', `at most N records, 1-1000 (default ${DEFAULT_AUDIT_LIMIT})`, parsePositiveInt)
    .option('--before <id>', 'only records older than this id (page with the last ID printed)', parsePositiveInt)
    .option('--json', 'print the API\'s JSON: { entries: [{ id, at, actor, action, app, function, target, before, after }] }')
    .action(withConnection(async (conn, opts: { app?: string; limit?: number; before?: number; json?: boolean }) => {
      const entries = await conn.client.listAudit({ app: opts.app, limit: opts.limit, before: opts.before });
      if (opts.json === true) {
        json({ entries });
        return;
      }
      if (entries.length === 0) {
        err('no audit records\n');
        return;
      }
      out(table(['ID', 'AT', 'ACTOR', 'ACTION', 'WHERE', 'CHANGE'], entries.map((entry) => [String(entry.id), entry.at, entry.actor, entry.action, whereCell(entry), changeCell(entry)])));
      if (entries.length === (opts.limit ?? DEFAULT_AUDIT_LIMIT)) {
        err(`more: faas audit${opts.app === undefined ? '' : ` --app ${opts.app}`} --before ${entries[entries.length - 1].id}\n`);
      }
    }));
}
