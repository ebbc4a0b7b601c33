/**
 * Version ids on the command line: every command that takes a version accepts the full id
 * (20 hex characters, a content hash) or a unique prefix of it, as shown by `faas versions`.
 */
import type { FaasClient } from './client.ts';
import { CliError } from './output.ts';
import type { Target } from './args.ts';

/** A full version id (`control-plane/core/versions.ts` VERSION_ID_PATTERN). */
const FULL_VERSION_ID = /^[0-9a-f]{20}$/;

/**
 * Expand a version id or prefix to the full id. A full id is returned as is (the platform checks
 * that it exists); a prefix is looked up in `GET …/versions`.
 * @throws CliError E_VERSION_NOT_FOUND when no version starts with `idOrPrefix`, E_AMBIGUOUS_VERSION when several do
 * @throws FaasApiError from listing the versions (E_FUNCTION_NOT_FOUND, E_FORBIDDEN, …)
 */
export async function resolveVersionId(client: FaasClient, target: Target, idOrPrefix: string): Promise<string> {
  if (FULL_VERSION_ID.test(idOrPrefix)) return idOrPrefix;
  const versions = await client.listVersions(target.app, target.fn);
  const exact = versions.find((version) => version.id === idOrPrefix);
  if (exact !== undefined) return exact.id;
  const matches = idOrPrefix === '' ? [] : versions.filter((version) => version.id.startsWith(idOrPrefix));
  const name = `${target.app}/${target.fn}`;
  if (matches.length === 1) return matches[0].id;
  if (matches.length > 1) {
    throw new CliError('E_AMBIGUOUS_VERSION', `"${idOrPrefix}" matches ${matches.length} versions of ${name}; give more characters`, {
      extra: matches.map((version) => `  ${version.id}`),
    });
  }
  throw new CliError('E_VERSION_NOT_FOUND', `no version of ${name} has an id starting with "${idOrPrefix}"`, {
    extra: [`  hint: list the versions with \`faas versions ${name}\``],
  });
}
