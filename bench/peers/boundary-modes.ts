/**
 * The ways `peers/boundary-server.ts` can answer `hello` (its BOUNDARY_MODE; the server's module
 * comment says what each does), in the order `isolate-boundary.ts` measures and prints them. A
 * module of its own because both of those files start something when imported.
 */
export const BOUNDARY_MODES = ['bare', 'apply-sync', 'apply-sync-timeout', 'apply-async', 'batch-timeout'] as const;

/** One of `BOUNDARY_MODES`. */
export type BoundaryMode = typeof BOUNDARY_MODES[number];
