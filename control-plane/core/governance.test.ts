/**
 * Roles, API keys, audit log, canary aliases, config/secrets, app settings and signing keys, over
 * both stores (SQLite in a temp dir and a throwaway MariaDB): the same suite for each.
 */
import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeOverStores, type OpenTestStore } from '../../test/support/stores.ts';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/store.ts';
import { createControlPlane } from './control-plane.ts';
import type { Actor, ChangeEvent, ControlPlane, Role } from './types.ts';

const admin: Actor = { keyId: 'key_admin', name: 'root', role: 'admin', apps: '*' };

function handler(n: number | string): string {
  return `export default async function handler(req, ctx) {\n  return { n: ${JSON.stringify(n)} };\n}\n`;
}

function governanceSuite(openTestStore: OpenTestStore): void {
  let store: Store;
  let cleanup: () => Promise<void>;
  let cp: ControlPlane;
  const events: ChangeEvent[] = [];

  before(async () => {
    ({ store, cleanup } = await openTestStore());
    cp = createControlPlane({ store, secretKey: Buffer.alloc(32, 7) });
    cp.onChange((event) => events.push(event));
    await cp.deploy(admin, { app: 'alpha', function: 'fn', code: handler('a1') });
    await cp.deploy(admin, { app: 'beta', function: 'fn', code: handler('b1') });
  });

  after(async () => {
    await cp?.close();
    await store?.close();
    await cleanup?.();
  });

  async function actorFor(role: Role, apps: string[] | '*'): Promise<Actor> {
    const { secret } = await cp.createKey(admin, { name: `${role}-${Array.isArray(apps) ? apps.join('+') : 'all'}`, role, apps });
    const actor = await cp.authenticate(secret);
    assert.ok(actor !== null);
    return actor;
  }

  it('each role is tried against each write: admin all, developer only its apps, viewer nothing', async () => {
    const developer = await actorFor('developer', ['alpha']);
    const viewer = await actorFor('viewer', ['alpha']);
    const writes: [string, (actor: Actor) => Promise<unknown>][] = [
      ['createApp', (a) => cp.createApp(a, `made-by-${a.role}`)],
      ['deploy', (a) => cp.deploy(a, { app: 'alpha', function: 'fn', code: handler(`by-${a.role}`) })],
      ['setAlias', async (a) => cp.setAlias(a, 'alpha', 'fn', 'staging', (await cp.resolve('alpha', 'fn', 'prod'))!.versionId)],
      ['rollback', (a) => cp.rollback(a, 'alpha', 'fn', { alias: 'prod' })],
      ['setConfig', (a) => cp.setConfig(a, 'alpha', 'fn', 'value', 'MODE', a.role)],
      ['setSecret', (a) => cp.setConfig(a, 'alpha', 'fn', 'secret', 'TOKEN', `s-${a.role}`)],
      ['updateAppSettings', (a) => cp.updateAppSettings(a, 'alpha', { fetchAllowlist: ['api.example.com'] })],
      ['rotateSigningKey', (a) => cp.rotateSigningKey(a, 'alpha')],
      ['createKey', (a) => cp.createKey(a, { name: 'x', role: 'viewer', apps: ['alpha'] })],
      ['revokeKey', (a) => cp.revokeKey(a, a.keyId)],
    ];
    const adminOnly = new Set(['createApp', 'createKey', 'revokeKey']);
    for (const [name, write] of writes) {
      await assert.rejects(write(viewer), { code: 'E_FORBIDDEN', status: 403 }, `viewer ${name}`);
      if (adminOnly.has(name)) await assert.rejects(write(developer), { code: 'E_FORBIDDEN' }, `developer ${name}`);
      else await write(developer);
    }
    for (const [name, write] of writes) {
      if (name === 'revokeKey') continue; // would revoke the admin test actor's (non-existent) key
      await write(admin);
    }
    // The developer of alpha cannot touch beta, even for reads; the viewer of alpha can read alpha.
    await assert.rejects(cp.deploy(developer, { app: 'beta', function: 'fn', code: handler('x') }), { code: 'E_FORBIDDEN' });
    await assert.rejects(cp.listVersions(developer, 'beta', 'fn'), { code: 'E_FORBIDDEN' });
    await assert.rejects(cp.readConfig(viewer, 'beta', 'fn'), { code: 'E_FORBIDDEN' });
    assert.ok((await cp.listVersions(viewer, 'alpha', 'fn')).length >= 2);
    assert.deepEqual((await cp.listApps(developer)).map((a) => a.name), ['alpha']);
  });

  it('a revoked key stops authenticating at once; key lists never show secrets or hashes', async () => {
    const { key, secret } = await cp.createKey(admin, { name: 'temp', role: 'developer', apps: ['alpha', 'beta'] });
    assert.ok(secret.startsWith('faas_'));
    assert.notEqual(await cp.authenticate(secret), null);
    const revoked = await cp.revokeKey(admin, key.id);
    assert.ok(revoked.revokedAt !== null);
    assert.equal(await cp.authenticate(secret), null);
    const listed = (await cp.listKeys(admin)).find((k) => k.id === key.id);
    assert.deepEqual(Object.keys(listed ?? {}).sort(), ['apps', 'createdAt', 'id', 'name', 'revokedAt', 'role']);
    await assert.rejects(cp.revokeKey(admin, 'key_missing'), { code: 'E_KEY_NOT_FOUND', status: 404 });
    await assert.rejects(cp.createKey(admin, { name: 'x', role: 'developer', apps: [] }), { code: 'E_VALIDATION' });
    await assert.rejects(cp.createKey(admin, { name: 'x', role: 'owner' as Role, apps: '*' }), { code: 'E_VALIDATION' });
    await assert.rejects(cp.createKey(admin, { name: 'x', role: 'viewer', apps: ['Bad Name'] }), { code: 'E_INVALID_NAME' });
  });

  it('every write leaves an audit record with who, what, before and after; readers see only their apps', async () => {
    const developer = await actorFor('developer', ['beta']);
    const v1 = (await cp.resolve('beta', 'fn', 'prod'))!.versionId;
    const deployed = await cp.deploy(developer, { app: 'beta', function: 'fn', code: handler('b2'), message: 'second' });
    await cp.setConfig(developer, 'beta', 'fn', 'secret', 'API_KEY', 'hunter2-very-secret');
    await cp.rollback(developer, 'beta', 'fn', {});
    const entries = await cp.listAudit(developer, { app: 'beta', limit: 10 });
    const [rollback, secret, deploy] = entries;
    assert.equal(rollback?.action, 'alias.rollback');
    assert.equal(rollback?.actor, developer.name);
    assert.deepEqual(rollback?.before, { versionId: deployed.version.id, canary: null });
    assert.deepEqual(rollback?.after, { versionId: v1, canary: null });
    assert.equal(secret?.action, 'secret.set');
    assert.equal(secret?.target, 'API_KEY');
    assert.equal(deploy?.action, 'function.deploy');
    assert.deepEqual(deploy?.before, { versionId: v1, canary: null });
    assert.deepEqual(deploy?.after, { versionId: deployed.version.id, created: true });
    assert.ok(entries.every((e) => typeof e.at === 'string' && e.id > 0));
    const all = await cp.listAudit(admin, { limit: 1000 });
    assert.ok(!JSON.stringify(all).includes('hunter2'), 'secret values never reach the audit log');
    assert.ok(all.some((e) => e.action === 'key.create'), 'platform-level records are visible to admins');
    const mine = await cp.listAudit(developer, {});
    assert.ok(mine.length > 0 && mine.every((e) => e.app === 'beta'), 'a developer sees only its apps');
    await assert.rejects(cp.listAudit(developer, { app: 'alpha' }), { code: 'E_FORBIDDEN' });
    // Paging: `beforeId` continues below the last id seen.
    const page = await cp.listAudit(admin, { limit: 2 });
    const next = await cp.listAudit(admin, { limit: 2, beforeId: page[1]!.id });
    assert.ok(next[0]!.id < page[1]!.id);
  });

  it('a canary alias splits by weight, survives a main move that does not touch it, and rollback drops it', async () => {
    const a = await cp.deploy(admin, { app: 'canary', function: 'fn', code: handler('main') });
    const b = await cp.deploy(admin, { app: 'canary', function: 'fn', code: handler('next'), alias: 'staging' });
    const state = await cp.setAlias(admin, 'canary', 'fn', 'prod', a.version.id, { canary: { versionId: b.version.id, weight: 10 } });
    assert.deepEqual(state.canary, { versionId: b.version.id, weight: 10 });
    const resolved = await cp.resolve('canary', 'fn', 'prod');
    assert.equal(resolved?.versionId, a.version.id);
    assert.equal(resolved?.canary?.versionId, b.version.id);
    assert.equal(resolved?.canary?.weight, 10);
    assert.deepEqual((await cp.getFunction(admin, 'canary', 'fn')).canaries, { prod: { versionId: b.version.id, weight: 10 } });
    await assert.rejects(cp.setAlias(admin, 'canary', 'fn', 'prod', a.version.id, { canary: { versionId: b.version.id, weight: 100 } }), { code: 'E_VALIDATION' });
    await assert.rejects(cp.setAlias(admin, 'canary', 'fn', 'prod', a.version.id, { canary: { versionId: a.version.id, weight: 5 } }), { code: 'E_VALIDATION' });
    await assert.rejects(cp.setAlias(admin, 'canary', 'fn', 'prod', a.version.id, { canary: { versionId: 'ffffffffffffffffffff', weight: 5 } }), { code: 'E_VERSION_NOT_FOUND' });
    assert.equal((await cp.resolve('canary', 'fn', 'prod'))?.canary?.weight, 10, 'a refused change leaves the split');
    const rolled = await cp.rollback(admin, 'canary', 'fn', {});
    assert.equal(rolled.versionId, a.version.id, 'rolling back a canary keeps the main version');
    assert.equal((await cp.resolve('canary', 'fn', 'prod'))?.canary, null);
    assert.ok(events.some((e) => e.kind === 'alias' && e.app === 'canary'));
  });

  it('secrets are encrypted at rest, readable only by the runtime, and refused with clear errors when malformed', async () => {
    await cp.setConfig(admin, 'alpha', 'fn', 'value', 'REGION', 'eu-west');
    await cp.setConfig(admin, 'alpha', 'fn', 'secret', 'DB_PASSWORD', 'correct horse battery staple');
    const raw = await store.listConfig('alpha', 'fn');
    const stored = raw.find((e) => e.name === 'DB_PASSWORD');
    assert.ok(stored !== undefined && !stored.value.includes('correct horse'), 'the store holds ciphertext');
    const view = await cp.readConfig(admin, 'alpha', 'fn');
    assert.equal(view.values.REGION, 'eu-west');
    assert.deepEqual(view.secrets.map((s) => s.name).includes('DB_PASSWORD'), true);
    assert.ok(!JSON.stringify(view).includes('correct horse'), 'the API read never returns a secret value');
    assert.equal((await cp.getFunctionConfig('alpha', 'fn')).secrets.DB_PASSWORD, 'correct horse battery staple');
    // A ciphertext moved to another function does not decrypt (the owner is authenticated data).
    await store.putConfig('beta', 'fn', { kind: 'secret', name: 'DB_PASSWORD', value: stored.value }, { actor: 't', action: 'test', app: 'beta', function: 'fn', target: null });
    await assert.rejects(cp.getFunctionConfig('beta', 'fn'), /does not decrypt/);
    await cp.unsetConfig(admin, 'beta', 'fn', 'secret', 'DB_PASSWORD');
    // A control plane with another key cannot read them either.
    const other = createControlPlane({ store, secretKey: Buffer.alloc(32, 9) });
    await assert.rejects(other.getFunctionConfig('alpha', 'fn'), { code: 'E_STORE_UNAVAILABLE' });
    await other.close();
    await assert.rejects(cp.setConfig(admin, 'alpha', 'fn', 'value', 'bad-name', 'x'), { code: 'E_VALIDATION' });
    await assert.rejects(cp.setConfig(admin, 'alpha', 'fn', 'value', 'BIG', 'x'.repeat(33 * 1024)), { code: 'E_VALIDATION' });
    await assert.rejects(cp.unsetConfig(admin, 'alpha', 'fn', 'value', 'NOT_SET'), { code: 'E_CONFIG_NOT_FOUND', status: 404 });
    assert.ok(events.some((e) => e.kind === 'config' && e.app === 'alpha'));
  });

  it('app settings are validated and merged; signing keys are created on first use and rotate without dropping the previous one', async () => {
    const settings = await cp.updateAppSettings(admin, 'beta', { fetchAllowlist: ['API.example.com', '*.cdn.example.net'] });
    assert.deepEqual(settings.fetchAllowlist, ['api.example.com', '*.cdn.example.net']);
    assert.deepEqual((await cp.getAppSettings('beta')).fetchAllowlist, ['api.example.com', '*.cdn.example.net']);
    for (const bad of [['http://x.com'], ['x.com/path'], ['*'], ['localhost:80'], 'x.com']) {
      await assert.rejects(cp.updateAppSettings(admin, 'beta', { fetchAllowlist: bad as string[] }), { code: 'E_VALIDATION' }, JSON.stringify(bad));
    }
    await assert.rejects(cp.updateAppSettings(admin, 'beta', { grpcServices: [{ name: 'x' }] as never }), { code: 'E_VALIDATION' });
    assert.deepEqual((await cp.getAppSettings('beta')).fetchAllowlist, ['api.example.com', '*.cdn.example.net'], 'refused updates change nothing');

    const first = await cp.getSigningKeys('beta');
    assert.equal(first.length, 1);
    assert.equal(Buffer.from(first[0]!.secret, 'base64url').length, 32);
    assert.deepEqual(await cp.getSigningKeys('beta'), first, 'the first key is created once');
    const { kid } = await cp.rotateSigningKey(admin, 'beta');
    const second = await cp.getSigningKeys('beta');
    assert.equal(second[0]!.kid, kid, 'the new key is newest');
    assert.equal(second.find((k) => k.kid === first[0]!.kid)?.retiredAt, null, 'the previous key still verifies');
    await cp.rotateSigningKey(admin, 'beta');
    const third = await cp.getSigningKeys('beta');
    assert.notEqual(third.find((k) => k.kid === first[0]!.kid)?.retiredAt, null, 'keys older than the previous one are retired');
    assert.deepEqual(await cp.getSigningKeys('no-such-app'), []);
    assert.ok(!JSON.stringify(await store.listSigningKeys('beta')).includes(third[0]!.secret), 'signing secrets are encrypted at rest');
  });

  it('twenty concurrent deploys to one function all land as versions with a complete alias history', async () => {
    await Promise.all(Array.from({ length: 20 }, (_, i) => cp.deploy(admin, { app: 'race', function: 'fn', code: handler(`v${i}`) })));
    const versions = await cp.listVersions(admin, 'race', 'fn');
    assert.equal(versions.length, 20);
    const history = await store.aliasHistory('race', 'fn', 'prod');
    assert.equal(history.length, 20);
    assert.equal((await cp.resolve('race', 'fn', 'prod'))?.versionId, history.at(-1)?.versionId, 'the alias ends at the last committed move');
  });
}

describeOverStores('governance', governanceSuite);

describe('audit log integrity (SQLite)', () => {
  it('the audit table refuses UPDATE and DELETE', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'faas-gov-'));
    try {
      const { DatabaseSync } = await import('node:sqlite');
      const store = await openStore({ dataDir: dir });
      await store.appendAudit({ actor: 'a', action: 'test', app: null, function: null, target: null });
      await store.close();
      const db = new DatabaseSync(join(dir, 'control-plane.db'));
      assert.throws(() => db.exec("UPDATE audit_log SET actor = 'mallory'"), /append-only/);
      assert.throws(() => db.exec('DELETE FROM audit_log'), /append-only/);
      db.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
