/**
 * Platform roles of the `faas` binary:
 *
 * - `faas all` (what `npm start` runs): every role in one process tree on the embedded defaults
 *   unless REDIS_URL / MYSQL_URL say otherwise; also serves gRPC for runtimes when FAAS_GRPC_PORT is set.
 * - `faas control-plane`: REST API and the gRPC server runtimes connect to (FAAS_GRPC_PORT, 9090).
 * - `faas runtime`: gateway and isolate workers, fed by a control plane over gRPC
 *   (FAAS_CONTROL_PLANE_GRPC=host:port, FAAS_GRPC_TOKEN).
 *
 * Each runs until SIGINT/SIGTERM, then drains and exits 0 (1 when draining fails).
 */
import type { Command } from 'commander';
import { CliError } from './output.ts';

/** Register `faas all`, `faas control-plane` and `faas runtime` on `program`. */
export function registerRoleCommands(program: Command): void {
  program
    .command('all', { isDefault: false })
    .description('run every role (control plane, gateway, isolate workers) on this machine; configured by PORT, HOST, FAAS_DATA_DIR, REDIS_URL, MYSQL_URL, FAAS_WORKERS (and FAAS_GRPC_PORT to also serve runtimes)')
    .action(async () => {
      // Loaded here so developer commands (deploy, invoke, …) do not pay for the platform's modules.
      const { configFromEnv, startPlatform } = await import('../control-plane/server.ts');
      const platform = await configured(() => startPlatform(configFromEnv()));
      process.stdout.write(`faas: platform listening on ${platform.url} (functions at ${platform.url}/fn/<app>/<function>, API at ${platform.url}/api)\n`);
      await runUntilSignal(platform.close);
    });

  program
    .command('control-plane')
    .description('run the control plane: REST API and the gRPC server runtimes connect to; configured by PORT, HOST, FAAS_DATA_DIR, MYSQL_URL, FAAS_GRPC_PORT (9090), FAAS_GRPC_HOST, FAAS_GRPC_TOKEN')
    .action(async () => {
      const { configFromEnv, startControlPlaneRole } = await import('../control-plane/server.ts');
      const cp = await configured(() => startControlPlaneRole(configFromEnv()));
      process.stdout.write(`faas: control plane listening on ${cp.url} (API at ${cp.url}/api), gRPC on port ${cp.grpc.port}\n`);
      await runUntilSignal(cp.close);
    });

  program
    .command('runtime')
    .description('run a runtime: gateway and isolate workers, fed by a control plane over gRPC; configured by PORT, HOST, FAAS_CONTROL_PLANE_GRPC (host:port), FAAS_GRPC_TOKEN (or FAAS_GRPC_TOKEN_FILE), REDIS_URL, FAAS_WORKERS')
    .action(async () => {
      const { configFromEnv, startRuntimeRole } = await import('../control-plane/server.ts');
      const runtime = await configured(() => startRuntimeRole(configFromEnv()));
      process.stdout.write(`faas: runtime listening on ${runtime.url} (functions at ${runtime.url}/fn/<app>/<function>), control plane ${runtime.remote.status().target}\n`);
      await runUntilSignal(runtime.close);
    });
}

/** Run a role's start; a configuration error (code ERR_FAAS_CONFIG) becomes one line `faas: E_BAD_CONFIG: …`, exit 1. */
async function configured<T>(start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (err) {
    if ((err as { code?: unknown } | null)?.code === 'ERR_FAAS_CONFIG') throw new CliError('E_BAD_CONFIG', (err as Error).message);
    throw err;
  }
}

/** Block until SIGINT or SIGTERM, then `close()` and exit (0 drained, 1 when closing failed). */
async function runUntilSignal(close: () => Promise<void>): Promise<never> {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`faas: ${signal} received, draining\n`);
    close().then(() => process.exit(0), (err: Error) => {
      process.stderr.write(`faas: shutdown failed: ${err.message}\n`);
      process.exit(1);
    });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  return new Promise<never>(() => {}); // run until a signal
}
