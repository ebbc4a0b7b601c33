/**
 * `faas alias set` and `faas alias clear-canary`: point an alias at a version, with an optional
 * weighted canary split (`PUT /api/apps/:app/functions/:fn/aliases/:alias`).
 *
 * Forms of `alias set <app/fn> <alias> <version>`:
 * - no flags: the alias sends all traffic to `<version>` (an existing canary is kept unless it
 *   is `<version>` itself — the control plane's rule);
 * - `--canary <v2> --weight <p>`: main `<version>`, `p` percent to `<v2>`;
 * - `--weight <p>` alone (the issue's `faas alias set prod v --weight 10`): `<version>` becomes the
 *   canary at `p` percent and the alias keeps its current main version.
 *
 * The two forms that read the alias first (`--weight` alone, `clear-canary`) do a read, then a
 * write: a move by someone else in between is overwritten (the API has no compare-and-set).
 */
import type { Command } from 'commander';
import type { AliasState, CanarySplit } from '../control-plane/core/types.ts';
import { parseTarget, parseWeight, type Target } from './args.ts';
import type { FaasClient } from './client.ts';
import { withConnection } from './connection.ts';
import { CliError, out, shortId } from './output.ts';
import { resolveVersionId } from './version-id.ts';

/** `demo/hello prod → 3f2a9c1b7d0e (was 91c04ee2a7b3), canary 7ab0… 10%`. */
function describeMove(target: Target, state: AliasState): string {
  const was = state.previousVersionId === null ? 'new' : state.previousVersionId === state.versionId ? 'unchanged' : `was ${shortId(state.previousVersionId)}`;
  const canary = state.canary === null ? 'no canary' : `canary ${shortId(state.canary.versionId)} gets ${state.canary.weight}%`;
  return `${target.app}/${target.fn} ${state.name} → ${shortId(state.versionId)} (${was}), ${canary}\n`;
}

/** The alias's current main version and canary. @throws CliError E_ALIAS_NOT_FOUND */
async function currentRoute(client: FaasClient, target: Target, alias: string, why: string): Promise<{ versionId: string; canary: CanarySplit | null }> {
  const fn = await client.getFunction(target.app, target.fn);
  const versionId = fn.aliases[alias];
  if (versionId === undefined) {
    const known = Object.keys(fn.aliases).sort();
    throw new CliError('E_ALIAS_NOT_FOUND', `alias ${alias} of ${target.app}/${target.fn} does not exist, ${why}`, {
      extra: [`  hint: its aliases are ${known.length === 0 ? 'none' : known.join(', ')}; create one with \`faas alias set ${target.app}/${target.fn} ${alias} <version>\``],
    });
  }
  return { versionId, canary: fn.canaries?.[alias] ?? null };
}

/** Register `alias set` and `alias clear-canary` on `program`. */
export function registerAliasCommands(program: Command): void {
  const alias = program
    .command('alias')
    .description('point an alias (prod, staging, any name) at a version, with an optional weighted canary');

  alias
    .command('set')
    .description('point <alias> at <version>; with --canary and --weight split its traffic; with --weight alone, <version> becomes the canary and the alias keeps its current main version')
    .argument('<app/function>', 'e.g. demo/live-stream', parseTarget)
    .argument('<alias>', 'alias name, e.g. prod')
    .argument('<version>', 'version id or a unique prefix (see `faas versions`)')
    .option('--canary <version>', 'canary version (id or prefix) that gets --weight percent of the traffic')
    .option('--weight <percent>', 'percent of the alias\'s traffic for the canary, 1-99', parseWeight)
    .addHelpText('after', [
      '',
      'Examples:',
      '  faas alias set demo/hello prod 3f2a9c1b                            all of prod to 3f2a9c1b',
      '  faas alias set demo/hello prod 3f2a9c1b --canary 7ab0 --weight 10  90% to 3f2a9c1b, 10% to 7ab0',
      '  faas alias set demo/hello prod 7ab0 --weight 10                    10% to 7ab0, prod keeps its main version',
      '  faas alias clear-canary demo/hello prod                            drop the split',
    ].join('\n'))
    .action(withConnection(async (conn, target: Target, aliasName: string, version: string, opts: { canary?: string; weight?: number }, command: Command) => {
      if (opts.canary !== undefined && opts.weight === undefined) {
        command.error('error: --canary needs --weight <percent> (the share of traffic the canary gets, 1-99)', { exitCode: 2, code: 'faas.missingWeight' });
      }
      const versionId = await resolveVersionId(conn.client, target, version);
      let state: AliasState;
      if (opts.weight === undefined) {
        state = await conn.client.setAlias(target.app, target.fn, aliasName, versionId);
      } else if (opts.canary !== undefined) {
        const canaryId = await resolveVersionId(conn.client, target, opts.canary);
        state = await conn.client.setAlias(target.app, target.fn, aliasName, versionId, { versionId: canaryId, weight: opts.weight });
      } else {
        const current = await currentRoute(conn.client, target, aliasName, 'so there is no main version to keep beside the canary: name both, `--canary <version> --weight <percent>`');
        if (current.versionId === versionId) {
          throw new CliError('E_SAME_VERSION', `${shortId(versionId)} is already the main version of ${aliasName}, so it cannot also be its canary`, {
            extra: ['  hint: name the version that should get the --weight share (see `faas versions`)'],
          });
        }
        state = await conn.client.setAlias(target.app, target.fn, aliasName, current.versionId, { versionId, weight: opts.weight });
      }
      out(describeMove(target, state));
    }));

  alias
    .command('clear-canary')
    .description('send all of an alias\'s traffic to its main version again (drops the canary split)')
    .argument('<app/function>', 'e.g. demo/live-stream', parseTarget)
    .argument('[alias]', 'alias name', 'prod')
    .action(withConnection(async (conn, target: Target, aliasName: string) => {
      const current = await currentRoute(conn.client, target, aliasName, 'so it has no canary');
      if (current.canary === null) {
        out(`${target.app}/${target.fn} ${aliasName} has no canary; nothing to clear\n`);
        return;
      }
      const state = await conn.client.setAlias(target.app, target.fn, aliasName, current.versionId, null);
      out(describeMove(target, state).replace(/, no canary\n$/, `, canary ${shortId(current.canary.versionId)} (${current.canary.weight}%) cleared\n`));
    }));
}
