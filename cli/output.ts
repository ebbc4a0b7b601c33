/**
 * What the `faas` CLI prints and how it fails: the error classes every command throws, the one
 * error format (`error <CODE>: <message>` plus hint lines, on stderr), and small text helpers
 * (tables, sizes, short ids). Results go to stdout, status lines and errors to stderr.
 */
import type { FaasApiError } from './client.ts';

/** A failure the CLI reports itself: printed as `error <code>: <message>` plus `extra` lines. */
export class CliError extends Error {
  readonly code: string;
  /** Process exit code. @default 1 */
  readonly exitCode: number;
  /** Lines printed after the first one (code frames, diagnostics, hints). */
  readonly extra: readonly string[];

  constructor(code: string, message: string, options: { exitCode?: number; extra?: string[] } = {}) {
    super(message);
    this.name = 'CliError';
    this.code = code;
    this.exitCode = options.exitCode ?? 1;
    this.extra = options.extra ?? [];
  }
}

/** Ends the command with an exit code and nothing more to print (e.g. `invoke` got a 4xx). */
export class CliExit extends Error {
  readonly exitCode: number;
  constructor(exitCode: number) {
    super(`exit ${exitCode}`);
    this.name = 'CliExit';
    this.exitCode = exitCode;
  }
}

/** Where the API key came from, for the hint on E_UNAUTHORIZED. */
export type KeySource = 'flag' | 'env' | 'config' | 'data-dir' | 'none';

/** What an error hint needs to know about the connection. */
export interface KeyOrigin {
  keySource: KeySource;
  /** The file the key was (or would have been) read from for `config` / `data-dir`. */
  keyFile: string;
  /** The CLI config file (`faas login` writes it). */
  configFile: string;
}

/** Context for the hints of `toCliError`. */
export interface ErrorContext {
  /** Labels code frames of deploy errors (`hello.js:2:15`). */
  file?: string;
  /** `app/function` the command acted on, for hints that name a follow-up command. */
  target?: string;
}

/**
 * Turn an API error into what the CLI prints: the server's code and message, plus the code frame
 * for E_SYNTAX, one block per diagnostic for E_CHECK, and a hint naming the CLI command that helps
 * for E_UNAUTHORIZED, E_FORBIDDEN, E_VERSION_NOT_FOUND, E_ALIAS_NOT_FOUND, E_KEY_NOT_FOUND,
 * E_CONFIG_NOT_FOUND and E_NO_PREVIOUS_VERSION.
 */
export function toCliError(error: FaasApiError, origin: KeyOrigin | null, context: ErrorContext = {}): CliError {
  const where = (line: unknown, column: unknown): string => `${context.file ?? '<code>'}:${String(line ?? '?')}:${String(column ?? '?')}`;
  const target = context.target ?? '<app>/<function>';
  const extra: string[] = [];
  switch (error.code) {
    case 'E_SYNTAX':
      extra.push(`  at ${where(error.details.line, error.details.column)}`);
      if (typeof error.details.frame === 'string') extra.push(indent(error.details.frame, '  '));
      if (typeof error.details.hint === 'string' && error.details.hint !== '') extra.push(indent(`hint: ${error.details.hint}`, '  '));
      break;
    case 'E_CHECK':
      if (Array.isArray(error.details.diagnostics)) {
        for (const item of error.details.diagnostics as Array<Record<string, unknown>>) {
          extra.push(`  ${where(item.line, item.column)} ${String(item.rule ?? 'check')}: ${String(item.message ?? '')}`);
          if (typeof item.hint === 'string' && item.hint !== '') extra.push(indent(`hint: ${item.hint}`, '    '));
          if (typeof item.frame === 'string') extra.push(indent(item.frame, '    '));
        }
      }
      break;
    case 'E_NO_PREVIOUS_VERSION':
      extra.push(`  hint: pick a version with \`faas versions ${target}\`, then \`faas rollback ${target} --to <version>\``);
      break;
    case 'E_VERSION_NOT_FOUND':
      extra.push(`  hint: list the versions with \`faas versions ${target}\` (a unique prefix of an id is enough)`);
      break;
    case 'E_ALIAS_NOT_FOUND':
      extra.push(`  hint: see the aliases with \`faas functions ${target.split('/')[0]}\`, or create one with \`faas alias set ${target} <alias> <version>\``);
      break;
    case 'E_KEY_NOT_FOUND':
      extra.push('  hint: list the key ids with `faas keys list`');
      break;
    case 'E_CONFIG_NOT_FOUND':
      extra.push(`  hint: see what is set with \`faas config get ${target}\` and \`faas secrets list ${target}\``);
      break;
    case 'E_FORBIDDEN':
      extra.push('  hint: `faas whoami` shows the role and apps of the key in use; an admin can create a key with `faas keys create`');
      break;
    case 'E_UNAUTHORIZED':
      if (origin !== null) extra.push(unauthorizedHint(origin));
      break;
    default:
      break;
  }
  return new CliError(error.code, error.message, { extra });
}

function unauthorizedHint(origin: KeyOrigin): string {
  switch (origin.keySource) {
    case 'none':
      return `  hint: no API key was sent: run \`faas login\`, pass --api-key, or set FAAS_API_KEY (no key in ${origin.configFile} nor ${origin.keyFile})`;
    case 'flag':
      return '  hint: the API key from --api-key was refused';
    case 'env':
      return '  hint: the API key from FAAS_API_KEY was refused';
    case 'config':
      return `  hint: the API key stored in ${origin.configFile} was refused (revoked?): run \`faas login\` again`;
    case 'data-dir':
      return `  hint: the API key from ${origin.keyFile} was refused: run \`faas login\` with a valid key`;
  }
}

function indent(text: string, prefix: string): string {
  return text.replace(/\n+$/, '').split('\n').map((line) => prefix + line).join('\n');
}

/** Print a CliError to stderr: `error <code>: <message>`, then its extra lines. */
export function printCliError(error: CliError, write: (text: string) => void = (text) => process.stderr.write(text)): void {
  write([`error ${error.code}: ${error.message}`, ...error.extra].join('\n') + '\n');
}

/** A left-aligned text table with a header row. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** `512 B`, `7.9 KiB`, `1.2 MiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** Ids longer than 16 characters (content hashes) are shown by their first 12; commands accept unique prefixes. */
export function shortId(id: string): string {
  return id.length > 16 ? id.slice(0, 12) : id;
}

/** One line of at most `max` characters (whitespace collapsed, `…` when cut). */
export function truncate(text: string, max: number): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
}

/** Write to stdout (results). */
export function out(text: string): void {
  process.stdout.write(text);
}

/** Write to stderr (status lines, notes, errors). */
export function err(text: string): void {
  process.stderr.write(text);
}

/** Print a value as indented JSON on stdout (what every `--json` prints). */
export function json(value: unknown): void {
  out(JSON.stringify(value, null, 2) + '\n');
}
