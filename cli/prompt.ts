/**
 * Reading what the user types: a visible prompt (`faas login` asks for the URL), a prompt without
 * echo (API keys, secret values), and reading a piped stdin (`printf %s "$TOKEN" | faas secrets set …`).
 * Prompts are written to stderr so stdout stays clean for results.
 */
import { createInterface } from 'node:readline/promises';
import type { Readable, Writable } from 'node:stream';
import { CliError, CliExit } from './output.ts';

/** The streams a prompt uses. @default stdin and stderr of the process */
export interface PromptIo {
  input: Readable & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  output: Writable;
}

const defaultIo = (): PromptIo => ({ input: process.stdin, output: process.stderr });

/** True when a person can answer prompts (stdin is a terminal). */
export function canPrompt(io: PromptIo = defaultIo()): boolean {
  return io.input.isTTY === true;
}

/**
 * Ask a question and read one line, echoed. An empty answer returns `fallback` when given.
 * @returns the answer, trimmed
 */
export async function prompt(question: string, fallback?: string, io: PromptIo = defaultIo()): Promise<string> {
  const rl = createInterface({ input: io.input, output: io.output, terminal: io.input.isTTY === true });
  try {
    const answer = (await rl.question(fallback === undefined ? `${question}: ` : `${question} [${fallback}]: `)).trim();
    return answer === '' && fallback !== undefined ? fallback : answer;
  } finally {
    rl.close();
  }
}

/**
 * Ask for a value without echoing it: the terminal is put in raw mode and nothing typed is
 * written back (not even `*`). Enter ends the value; Backspace deletes; Ctrl-C aborts with exit
 * code 130; Ctrl-D on an empty line ends it empty.
 * @throws CliError E_NO_TTY when stdin is not a terminal (read a pipe with `readStdin` instead)
 * @throws CliExit 130 on Ctrl-C
 */
export async function promptHidden(question: string, io: PromptIo = defaultIo()): Promise<string> {
  const { input, output } = io;
  if (input.isTTY !== true || typeof input.setRawMode !== 'function') {
    throw new CliError('E_NO_TTY', 'cannot ask without echo: stdin is not a terminal; pipe the value on stdin or pass it as an argument', { exitCode: 2 });
  }
  input.setRawMode(true); // before the question: typing that starts as soon as it shows must not echo
  output.write(`${question}: `);
  input.setEncoding('utf8');
  input.resume();
  let value = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: string) => {
        for (const char of chunk) {
          if (char === '\r' || char === '\n' || (char === '\u0004' && value === '')) {
            input.off('data', onData);
            resolve();
            return;
          }
          if (char === '\u0003') {
            input.off('data', onData);
            reject(new CliExit(130));
            return;
          }
          if (char === '\u007f' || char === '\b') value = value.slice(0, -1);
          else if (char >= ' ') value += char;
        }
      };
      input.on('data', onData);
    });
  } finally {
    input.setRawMode(false);
    input.pause();
    output.write('\n');
  }
  return value;
}

/**
 * Read all of stdin as UTF-8 and drop one trailing newline (what `echo` adds).
 * @param maxBytes refuse more than this many bytes @default 1_048_576
 * @throws CliError E_INPUT_TOO_LARGE (exit 2) beyond `maxBytes`
 */
export async function readStdin(maxBytes = 1_048_576, input: Readable = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > maxBytes) throw new CliError('E_INPUT_TOO_LARGE', `stdin holds more than ${maxBytes} bytes, more than this command accepts`, { exitCode: 2 });
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}
