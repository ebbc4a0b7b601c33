/**
 * Platform roles of the `faas` binary. `faas all` (what `npm start` runs) starts every role in one
 * process tree on the embedded defaults unless REDIS_URL / MYSQL_URL say otherwise.
 */
import type { Command } from 'commander';

/** Register `faas all` on `program`. */
export function registerRoleCommands(program: Command): void {
  program
    .command('all', { isDefault: false })
    .description('run every role (control plane, gateway, isolate workers) on this machine; configured by PORT, HOST, FAAS_DATA_DIR, REDIS_URL, MYSQL_URL, FAAS_WORKERS')
    .action(async () => {
      // Loaded here so developer commands (deploy, invoke, …) do not pay for the platform's modules.
      const { configFromEnv, startPlatform } = await import('../control-plane/server.ts');
      const platform = await startPlatform(configFromEnv());
      process.stdout.write(`faas: platform listening on ${platform.url} (functions at ${platform.url}/fn/<app>/<function>, API at ${platform.url}/api)\n`);
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        process.stdout.write(`faas: ${signal} received, draining\n`);
        platform.close().then(() => process.exit(0), (err: Error) => {
          process.stderr.write(`faas: shutdown failed: ${err.message}\n`);
          process.exit(1);
        });
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
      await new Promise<never>(() => {}); // run until a signal
    });
}
