/**
 * `faas config set|get|unset` (a function's configuration values, readable by the function as
 * `ctx.config`) and `faas secrets set|list|unset` (write-only values, encrypted at rest by the
 * platform). A secret's value is sent once and never printed: not by `set`, not by `list`, not
 * with `--json` (the API never returns it).
 */
import type { Command } from 'commander';
import { parseTarget, type Target } from './args.ts';
import { withConnection } from './connection.ts';
import { CliError, err, json, out, table } from './output.ts';
import { canPrompt, promptHidden, readStdin } from './prompt.ts';

/** Largest value the platform stores, in bytes (`MAX_CONFIG_VALUE_BYTES` in control-plane/core/control-plane.ts). */
const MAX_VALUE_BYTES = 32 * 1024;

/** Register `config` and `secrets` on `program`. */
export function registerConfigCommands(program: Command): void {
  const config = program
    .command('config')
    .description('a function\'s configuration values (ctx.config); for credentials use `faas secrets`');

  config
    .command('set')
    .description('set a config value')
    .argument('<app/function>', 'e.g. demo/live-stream', parseTarget)
    .argument('<name>', 'letters, digits or _, starting with a letter or _ (at most 63)')
    .argument('<value>', 'the value (a string, at most 32 KiB)')
    .action(withConnection(async (conn, target: Target, name: string, value: string) => {
      await conn.client.setConfig(target.app, target.fn, name, value);
      out(`config ${name} set for ${target.app}/${target.fn}\n`);
    }));

  config
    .command('get')
    .description('print one config value (raw, for scripts), or every value and the secret names')
    .argument('<app/function>', 'e.g. demo/live-stream', parseTarget)
    .argument('[name]', 'the value to print')
    .option('--json', 'print the API\'s JSON: { values: { name: value }, secrets: [{ name, updatedAt }] }; with <name>: { name, value }')
    .action(withConnection(async (conn, target: Target, name: string | undefined, opts: { json?: boolean }) => {
      const view = await conn.client.readConfig(target.app, target.fn);
      if (name !== undefined) {
        if (!Object.hasOwn(view.values, name)) {
          const isSecret = view.secrets.some((secret) => secret.name === name);
          throw new CliError('E_CONFIG_NOT_FOUND', isSecret
            ? `${name} is a secret of ${target.app}/${target.fn}, and secret values are never readable`
            : `config value ${name} is not set for ${target.app}/${target.fn}`, {
            extra: [`  hint: see what is set with \`faas config get ${target.app}/${target.fn}\``],
          });
        }
        if (opts.json === true) json({ name, value: view.values[name] });
        else out(`${view.values[name]}\n`);
        return;
      }
      if (opts.json === true) {
        json(view);
        return;
      }
      const names = Object.keys(view.values).sort();
      if (names.length === 0) err(`${target.app}/${target.fn} has no config values\n`);
      else out(table(['NAME', 'VALUE'], names.map((key) => [key, view.values[key]])));
      if (view.secrets.length > 0) err(`secrets (values hidden): ${view.secrets.map((secret) => secret.name).join(', ')}\n`);
    }));

  config
    .command('unset')
    .description('remove a config value')
    .argument('<app/function>', 'e.g. demo/live-stream', parseTarget)
    .argument('<name>', 'the value to remove')
    .action(withConnection(async (conn, target: Target, name: string) => {
      await conn.client.unsetConfig(target.app, target.fn, name);
      out(`config ${name} unset for ${target.app}/${target.fn}\n`);
    }));

  const secrets = program
    .command('secrets')
    .description('a function\'s secrets (ctx.config, write-only: values are never shown again)');

  secrets
    .command('set')
    .description('set a secret; without <value> it is read from stdin when piped, else asked without echo')
    .argument('<app/function>', 'e.g. demo/live-stream', parseTarget)
    .argument('<name>', 'letters, digits or _, starting with a letter or _ (at most 63)')
    .argument('[value]', 'the value (prefer stdin or the prompt: arguments stay in shell history)')
    .addHelpText('after', '\nExamples:\n  faas secrets set demo/shop PAYMENT_TOKEN            (asks, without echo)\n  printf %s "$TOKEN" | faas secrets set demo/shop PAYMENT_TOKEN')
    .action(withConnection(async (conn, target: Target, name: string, given: string | undefined) => {
      let value = given;
      if (value === undefined) value = canPrompt() ? await promptHidden(`value of secret ${name}`) : await readStdin(MAX_VALUE_BYTES);
      if (value === '') {
        throw new CliError('E_EMPTY_SECRET', `no value for secret ${name}: pipe it on stdin, type it at the prompt, or pass it as an argument`, { exitCode: 2 });
      }
      await conn.client.setSecret(target.app, target.fn, name, value);
      out(`secret ${name} set for ${target.app}/${target.fn} (the value is stored encrypted and never shown)\n`);
    }));

  secrets
    .command('list')
    .description('list secret names and when each was set (never values)')
    .argument('<app/function>', 'e.g. demo/live-stream', parseTarget)
    .option('--json', 'print the API\'s JSON: { secrets: [{ name, updatedAt }] }')
    .action(withConnection(async (conn, target: Target, opts: { json?: boolean }) => {
      const list = await conn.client.listSecrets(target.app, target.fn);
      if (opts.json === true) {
        json({ secrets: list });
        return;
      }
      if (list.length === 0) err(`${target.app}/${target.fn} has no secrets\n`);
      else out(table(['NAME', 'UPDATED'], list.map((secret) => [secret.name, secret.updatedAt])));
    }));

  secrets
    .command('unset')
    .description('remove a secret')
    .argument('<app/function>', 'e.g. demo/live-stream', parseTarget)
    .argument('<name>', 'the secret to remove')
    .action(withConnection(async (conn, target: Target, name: string) => {
      await conn.client.unsetSecret(target.app, target.fn, name);
      out(`secret ${name} unset for ${target.app}/${target.fn}\n`);
    }));
}
