/**
 * The `faas` program: one binary, several roles. Developer commands (login, deploy, invoke,
 * versions, alias, rollback, logs, config, secrets, keys, audit, …) are registered by
 * `cli/commands.ts`; platform roles (`all`, …) below. Run directly (`node --no-node-snapshot
 * cli/main.ts <command>`, what `npm start` does) or through the npm bin `cli/faas.js`, which picks
 * Node 24 and calls `runCli`.
 *
 * Exit codes: 0 success, 1 a command failed (one line `error <CODE>: <message>` on stderr, plus
 * a hint when one helps), 2 usage error (commander's message on stderr).
 */
import { Command, CommanderError } from 'commander';
import { registerDeveloperCommands } from './commands.ts';
import { CliError, CliExit, printCliError, toCliError } from './output.ts';
import { parseUrl } from './args.ts';
import { isFaasApiError } from './client.ts';
import { registerRoleCommands } from './roles.ts';

/**
 * Build the whole command tree. Nothing runs until `parseAsync`; errors surface as rejections
 * (commander's `exitOverride`), which `runCli` turns into exit codes.
 */
export function buildProgram(): Command {
  const program = new Command('faas')
    .description('FaaS platform for game mini-apps: deploy, invoke and operate functions')
    .option('--url <url>', 'platform URL (default: $FAAS_URL, else the one saved by `faas login`, else http://127.0.0.1:8080)', parseUrl)
    .option('--api-key <key>', 'API key (default: $FAAS_API_KEY, else the one saved by `faas login`, else $FAAS_DATA_DIR/admin.key)')
    .showSuggestionAfterError()
    .exitOverride(); // inherited by every subcommand added below

  registerDeveloperCommands(program);

  // ---------------------------------------------------------------------------------------
  // Platform roles (cli/roles.ts): `faas all`, and later `control-plane`, `runtime`, `worker`.
  // Global options are available in actions through `command.optsWithGlobals()`.
  // ---------------------------------------------------------------------------------------
  registerRoleCommands(program);

  return program;
}

/**
 * Parse `argv` (as `process.argv`: node, script, ...args) and run the command.
 * @returns the process exit code: 0 ok, 1 command failed, 2 usage error
 */
export async function runCli(argv: readonly string[] = process.argv): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof CliExit) return error.exitCode;
    if (error instanceof CliError) {
      printCliError(error);
      return error.exitCode;
    }
    if (isFaasApiError(error)) {
      printCliError(toCliError(error, null));
      return 1;
    }
    process.stderr.write(`error E_INTERNAL: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}

if (import.meta.main) {
  process.exitCode = await runCli(process.argv);
}
