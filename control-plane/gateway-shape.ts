/**
 * FAAS_GATEWAY, the gateway shape (DESIGN.md, Processes; README, "How it is built"), in a module
 * of its own so the benchmark can name the default without loading the platform.
 *
 * - `process` (default) — shape (a): one gateway process forwards each invocation to a worker over
 *   IPC; a crashed worker's in-flight invocations get 503 E_WORKER_CRASHED.
 * - `workers` — shape (b): the workers take the connections and run the gateway in front of their
 *   own pools (no IPC hop per invocation; a dying worker drops the connections it was serving).
 */
import { configError } from './grpc/token.ts';

/** Who serves `/fn`. */
export type GatewayShape = 'workers' | 'process';

/** The gateway shape when FAAS_GATEWAY is unset (README, "Environment"). */
export const DEFAULT_GATEWAY: GatewayShape = 'process';

/**
 * FAAS_GATEWAY → the gateway shape (unset or empty: DEFAULT_GATEWAY).
 * @throws Error (code ERR_FAAS_CONFIG) naming the variable for anything but `workers` or `process`.
 */
export function gatewayShape(raw: string | undefined): GatewayShape {
  if (raw === undefined || raw === '') return DEFAULT_GATEWAY;
  if (raw === 'workers' || raw === 'process') return raw;
  throw configError(`FAAS_GATEWAY must be workers (each worker process serves /fn itself) or process (one gateway process forwards invocations to the workers), got ${JSON.stringify(raw)}`);
}
