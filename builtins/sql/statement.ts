/**
 * The statement check of `ctx.sql`: a lexer-level second layer in front of the database's own
 * enforcement (the per-app MySQL user's grants; the SQLite authorizer in `sqlite-policy.ts`).
 * It tokenises the text the way the server would — skipping string literals, quoted identifiers and
 * comments — and refuses, with a message that says what, where and why:
 *
 * - more than one statement (`;` followed by anything but whitespace or comments);
 * - statements outside the allowlist (`USE`, `SET`, `GRANT`, `LOAD DATA`, `ATTACH`, `VACUUM`,
 *   transaction control, …);
 * - on MySQL: file access (`INTO OUTFILE`/`DUMPFILE`, `LOAD_FILE`, `DATA DIRECTORY`), other
 *   databases (`faas_app_<other>`, `faas_apph_…`, `mysql.`, `performance_schema.`, `sys.`), executable comments
 *   and optimizer hints (`/*! … *∕`, `/*M! … *∕`, `/*+ … *∕`), user variables (`@x`, they outlive the
 *   call on a pooled connection), server-wide named locks (`GET_LOCK`), non-local storage engines;
 * - placeholders other than `?` (`?1`, `:name`, `@name`, `$name` on SQLite).
 *
 * It never decides what a statement *means* beyond that: the database parses it. Nothing here is
 * the only line of defence.
 */
import { builtinError } from '../errors.ts';

/** Which SQL the text is lexed as. */
export type SqlDialect = 'mysql' | 'sqlite';

/** What the check learned about an accepted statement. */
export interface StatementInfo {
  /** The text to send: a single trailing `;` (and what follows it: whitespace, comments) removed. */
  readonly text: string;
  /** Number of `?` placeholders outside literals and comments. */
  readonly placeholders: number;
  /** The statement's first keyword, lower-case (`select`, `insert`, …; `with` for a CTE). */
  readonly verb: string;
  /** True when the statement inserts rows (`INSERT`/`REPLACE`, also after a `WITH` clause). */
  readonly inserts: boolean;
  /** True for INSERT, REPLACE, UPDATE and DELETE (also after `WITH`): the statements whose affected rows are counted. */
  readonly writesRows: boolean;
}

type TokenKind = 'word' | 'qid' | 'string' | 'param' | 'sysvar' | 'punct' | 'semicolon';

interface Token {
  kind: TokenKind;
  /** Lower-case text for words; the unquoted name for quoted identifiers; the character for punct. */
  value: string;
  /** Offset of the token's first character in the text. */
  at: number;
}

/** Where an offset is, 1-based, for messages. */
function position(text: string, at: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < at; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: at - lineStart + 1 };
}

function snippet(text: string, at: number): string {
  const piece = text.slice(at, at + 40).split('\n')[0];
  return piece.length < text.length - at ? `${piece}…` : piece;
}

function fail(code: 'E_SQL_REFUSED' | 'E_SQL_BAD_ARGUMENTS', text: string, at: number, why: string): never {
  const { line, column } = position(text, at);
  throw builtinError(code, `${why} (at line ${line}, column ${column}: ${JSON.stringify(snippet(text, at))})`, { line, column });
}

const isWordChar = (c: string): boolean => /[A-Za-z0-9_$\u0080-\uffff]/.test(c);
const isSpace = (c: string): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v';

/**
 * Split `text` into tokens, skipping whitespace, comments and the contents of string literals.
 * @throws PlatformError E_SQL_BAD_ARGUMENTS for an unterminated string or quoted identifier;
 *   E_SQL_REFUSED for executable comments / optimizer hints (MySQL), named or numbered
 *   placeholders, user variables (MySQL)
 */
function tokenize(text: string, dialect: SqlDialect): Token[] {
  const tokens: Token[] = [];
  const n = text.length;
  const mysql = dialect === 'mysql';
  let i = 0;

  /** Index just past a quoted run opened at `start` by `quote`; doubled quotes (and `\` on MySQL strings) escape. */
  const skipQuoted = (start: number, quote: string, backslash: boolean, what: string): number => {
    let j = start + 1;
    while (j < n) {
      const c = text[j];
      if (backslash && c === '\\') {
        j += 2;
        continue;
      }
      if (c === quote) {
        if (text[j + 1] === quote) {
          j += 2;
          continue;
        }
        return j + 1;
      }
      j++;
    }
    return fail('E_SQL_BAD_ARGUMENTS', text, start, `unterminated ${what}: add the closing ${quote}`);
  };

  while (i < n) {
    const c = text[i];
    const next = text[i + 1];
    if (isSpace(c)) {
      i++;
      continue;
    }
    // Line comments: `-- ` (MySQL needs a space or control character after the dashes), `#` on MySQL.
    if (c === '-' && next === '-' && (!mysql || i + 2 >= n || text.charCodeAt(i + 2) <= 32)) {
      const end = text.indexOf('\n', i);
      i = end === -1 ? n : end + 1;
      continue;
    }
    if (mysql && c === '#') {
      const end = text.indexOf('\n', i);
      i = end === -1 ? n : end + 1;
      continue;
    }
    if (c === '/' && next === '*') {
      const third = text[i + 2];
      if (mysql && (third === '!' || third === '+' || ((third === 'M' || third === 'm') && text[i + 3] === '!'))) {
        fail('E_SQL_REFUSED', text, i, `${third === '+' ? 'optimizer hints (/*+ … */)' : 'executable comments (/*! … */)'} are not allowed: the server runs their contents, so they could change session settings; write the SQL without them`);
      }
      const end = text.indexOf('*/', i + 2);
      i = end === -1 ? n : end + 2;
      continue;
    }
    if (c === "'" || (mysql && c === '"')) {
      const end = skipQuoted(i, c, mysql, 'string literal');
      tokens.push({ kind: 'string', value: '', at: i });
      i = end;
      continue;
    }
    if (c === '`' || (!mysql && c === '"')) {
      const end = skipQuoted(i, c, false, 'quoted identifier');
      tokens.push({ kind: 'qid', value: text.slice(i + 1, end - 1).split(c + c).join(c), at: i });
      i = end;
      continue;
    }
    if (!mysql && c === '[') {
      const end = text.indexOf(']', i + 1);
      if (end === -1) fail('E_SQL_BAD_ARGUMENTS', text, i, 'unterminated quoted identifier: add the closing ]');
      tokens.push({ kind: 'qid', value: text.slice(i + 1, end), at: i });
      i = end + 1;
      continue;
    }
    if (c === '?') {
      if (!mysql && next !== undefined && /[0-9]/.test(next)) {
        fail('E_SQL_REFUSED', text, i, 'numbered placeholders (?1) are not supported: use plain ? placeholders, one per value, in order');
      }
      tokens.push({ kind: 'param', value: '?', at: i });
      i++;
      continue;
    }
    if (!mysql && (c === ':' || c === '@' || c === '$') && next !== undefined && isWordChar(next)) {
      fail('E_SQL_REFUSED', text, i, `named placeholders (${c}name) are not supported: use ? placeholders and pass the values in order`);
    }
    // `'user'@'host'` (account names, in statements the verb check refuses anyway) is not a variable.
    if (mysql && c === '@' && i > 0 && /['"`\w]/.test(text[i - 1])) {
      tokens.push({ kind: 'punct', value: '@', at: i });
      i++;
      continue;
    }
    if (mysql && c === '@') {
      if (next === '@') {
        // A system variable, read-only here (SET is refused): @@name, @@session.name, @@`name`.
        let j = i + 2;
        while (j < n && (isWordChar(text[j]) || text[j] === '.')) j++;
        tokens.push({ kind: 'sysvar', value: text.slice(i, j).toLowerCase(), at: i });
        i = j;
        continue;
      }
      fail('E_SQL_REFUSED', text, i, 'user variables (@name) are not allowed: they stay set on the pooled connection after the call, where another invocation would see them; use ? parameters or a derived table');
    }
    if (c === ';') {
      tokens.push({ kind: 'semicolon', value: ';', at: i });
      i++;
      continue;
    }
    if (isWordChar(c)) {
      let j = i + 1;
      while (j < n && isWordChar(text[j])) j++;
      tokens.push({ kind: 'word', value: text.slice(i, j).toLowerCase(), at: i });
      i = j;
      continue;
    }
    tokens.push({ kind: 'punct', value: c, at: i });
    i++;
  }
  return tokens;
}

/** Why a first keyword is refused; the generic message lists what is allowed. */
const TX_REASON = 'transactions are run with ctx.sql.transaction(async (tx) => { … }), which commits or rolls back for you';
const MYSQL_REFUSED_VERBS: Readonly<Record<string, string>> = {
  use: "the connection is fixed to the app's own database",
  set: 'session and server variables cannot be changed from a function',
  load: 'LOAD DATA and LOAD XML read files',
  grant: 'account and privilege management is not allowed',
  revoke: 'account and privilege management is not allowed',
  start: TX_REASON,
  begin: TX_REASON,
  commit: TX_REASON,
  rollback: TX_REASON,
  savepoint: TX_REASON,
  release: TX_REASON,
  xa: TX_REASON,
  lock: 'table locks would outlive the call on a pooled connection',
  unlock: 'table locks would outlive the call on a pooled connection',
  prepare: 'server-side prepared statements built from text would bypass this check; pass values as ? parameters',
  execute: 'server-side prepared statements built from text would bypass this check; pass values as ? parameters',
  deallocate: 'server-side prepared statements are managed by the platform',
  call: 'stored procedures are not available',
  handler: 'HANDLER reads tables outside the normal statement checks',
};
const MYSQL_VERBS = 'SELECT, WITH, VALUES, TABLE, INSERT, REPLACE, UPDATE, DELETE, CREATE TABLE/INDEX/VIEW, ALTER TABLE, DROP TABLE/INDEX/VIEW, TRUNCATE, RENAME TABLE, SHOW TABLES/COLUMNS/INDEX/CREATE TABLE, DESCRIBE, EXPLAIN';

const SQLITE_REFUSED_VERBS: Readonly<Record<string, string>> = {
  attach: 'ATTACH opens another database file',
  detach: 'ATTACH and DETACH are not available',
  vacuum: 'VACUUM rewrites the database file (VACUUM INTO writes a new file)',
  reindex: 'maintenance statements are run by the platform',
  analyze: 'maintenance statements are run by the platform',
  begin: TX_REASON,
  commit: TX_REASON,
  end: TX_REASON,
  rollback: TX_REASON,
  savepoint: TX_REASON,
  release: TX_REASON,
};
const SQLITE_VERBS = 'SELECT, WITH, VALUES, INSERT, REPLACE, UPDATE, DELETE, CREATE, ALTER, DROP, EXPLAIN, PRAGMA (table_info and similar read-only ones)';

const READ_VERBS = new Set(['select', 'with', 'values', 'table']);

/**
 * MySQL functions refused anywhere (when followed by `(`, so a column of that name still works),
 * with the reason.
 */
const MYSQL_REFUSED_FUNCTIONS: Readonly<Record<string, string>> = {
  load_file: 'LOAD_FILE() reads a file on the database server',
  get_lock: 'named locks are shared by every app on the server',
  release_lock: 'named locks are shared by every app on the server',
  release_all_locks: 'named locks are shared by every app on the server',
  is_free_lock: 'named locks are shared by every app on the server',
  is_used_lock: 'named locks are shared by every app on the server',
  master_pos_wait: 'replication functions are not available',
  master_gtid_wait: 'replication functions are not available',
  source_pos_wait: 'replication functions are not available',
};
/** MySQL keyword pairs refused anywhere: `[previous word, word] → reason`. */
const MYSQL_REFUSED_PAIRS: ReadonlyArray<readonly [string, string, string]> = [
  ['into', 'outfile', 'SELECT … INTO OUTFILE writes a file on the database server'],
  ['into', 'dumpfile', 'SELECT … INTO DUMPFILE writes a file on the database server'],
  ['data', 'directory', "DATA DIRECTORY places the table's files outside the app's database"],
  ['index', 'directory', "INDEX DIRECTORY places the table's files outside the app's database"],
];
const SYSTEM_SCHEMAS = new Set(['mysql', 'performance_schema', 'sys']);
const LOCAL_ENGINES = new Set(['innodb', 'aria', 'myisam', 'memory', 'heap']);

/** The prefix of every app database on MySQL (`faas_app_…` and `faas_apph_…`, see `names.ts`). */
export const APP_DATABASE_PREFIX = 'faas_app';

function refuseVerb(text: string, token: Token, reasons: Readonly<Record<string, string>>, allowed: string): never {
  const verb = token.value.toUpperCase();
  const reason = reasons[token.value];
  return fail('E_SQL_REFUSED', text, token.at, reason === undefined
    ? `${verb} statements are not allowed in ctx.sql; allowed: ${allowed}`
    : `${verb} is not allowed: ${reason}`);
}

/** The word tokens following index `i` (skipping nothing), lower-case, up to `count`. */
function wordsAfter(tokens: readonly Token[], i: number, count: number): string[] {
  const out: string[] = [];
  for (let j = i + 1; j < tokens.length && out.length < count; j++) {
    if (tokens[j].kind !== 'word') break;
    out.push(tokens[j].value);
  }
  return out;
}

/** MySQL: check the statement starting at token `i` (after EXPLAIN/DESCRIBE, again on the inner statement). */
function checkMysqlVerb(text: string, tokens: readonly Token[], i: number): void {
  const first = tokens[i];
  switch (first.value) {
    case 'select': case 'with': case 'values': case 'table':
    case 'insert': case 'replace': case 'update': case 'delete': case 'truncate':
      return;
    case 'explain': case 'describe': case 'desc': {
      // `DESCRIBE t` / `EXPLAIN t` describe a table; `EXPLAIN [EXTENDED|FORMAT=…] <statement>` is checked as that statement.
      for (let j = i + 1; j < tokens.length; j++) {
        const t = tokens[j];
        if (t.kind !== 'word') continue;
        if (['select', 'with', 'values', 'table', 'insert', 'replace', 'update', 'delete'].includes(t.value)) return;
        if (MYSQL_REFUSED_VERBS[t.value] !== undefined) refuseVerb(text, t, MYSQL_REFUSED_VERBS, MYSQL_VERBS);
      }
      return;
    }
    case 'create': {
      let sawSecurity = false;
      for (let j = i + 1; j < tokens.length; j++) {
        const t = tokens[j];
        if (t.kind === 'punct' && t.value === '=') continue;
        if (t.kind !== 'word') break;
        if (t.value === 'table' || t.value === 'index' || t.value === 'view') return;
        if (t.value === 'security') sawSecurity = true;
        if (['or', 'replace', 'temporary', 'unique', 'fulltext', 'spatial', 'algorithm', 'undefined', 'merge', 'temptable', 'sql', 'security', 'invoker', 'online', 'offline'].includes(t.value)) continue;
        if (t.value === 'definer' && sawSecurity) continue;
        fail('E_SQL_REFUSED', text, t.at, `CREATE ${t.value.toUpperCase()} is not allowed: only CREATE TABLE, CREATE INDEX and CREATE VIEW (in the app's own database) are`);
      }
      fail('E_SQL_REFUSED', text, first.at, 'CREATE must be followed by TABLE, INDEX or VIEW');
      break;
    }
    case 'alter': {
      const words = wordsAfter(tokens, i, 3);
      if (words[0] === 'table' || (['online', 'offline', 'ignore'].includes(words[0]) && words.includes('table'))) return;
      fail('E_SQL_REFUSED', text, first.at, `ALTER ${(words[0] ?? '').toUpperCase()} is not allowed: only ALTER TABLE is`);
      break;
    }
    case 'drop': {
      const words = wordsAfter(tokens, i, 2);
      const what = words[0] === 'temporary' ? words[1] : words[0];
      if (what === 'table' || what === 'index' || what === 'view') return;
      fail('E_SQL_REFUSED', text, first.at, `DROP ${(what ?? '').toUpperCase()} is not allowed: only DROP TABLE, DROP INDEX and DROP VIEW are`);
      break;
    }
    case 'rename': {
      if (wordsAfter(tokens, i, 1)[0] === 'table') return;
      fail('E_SQL_REFUSED', text, first.at, 'only RENAME TABLE is allowed');
      break;
    }
    case 'show': {
      const [a, b] = wordsAfter(tokens, i, 2);
      if (['tables', 'columns', 'fields', 'index', 'indexes', 'keys', 'warnings', 'errors'].includes(a)) return;
      if (a === 'full' && ['tables', 'columns', 'fields'].includes(b)) return;
      if (a === 'table' && b === 'status') return;
      if (a === 'create' && (b === 'table' || b === 'view')) return;
      fail('E_SQL_REFUSED', text, first.at, 'only SHOW TABLES, SHOW [FULL] COLUMNS, SHOW INDEX, SHOW TABLE STATUS, SHOW CREATE TABLE/VIEW, SHOW WARNINGS and SHOW ERRORS are allowed');
      break;
    }
    default:
      refuseVerb(text, first, MYSQL_REFUSED_VERBS, MYSQL_VERBS);
  }
}

function checkSqliteVerb(text: string, tokens: readonly Token[], i: number): void {
  const first = tokens[i];
  switch (first.value) {
    case 'select': case 'with': case 'values': case 'insert': case 'replace': case 'update': case 'delete':
    case 'create': case 'alter': case 'drop': case 'pragma':
      return;
    case 'explain': {
      let j = i + 1;
      if (tokens[j]?.value === 'query' && tokens[j + 1]?.value === 'plan') j += 2;
      if (tokens[j] === undefined || tokens[j].kind !== 'word') fail('E_SQL_BAD_ARGUMENTS', text, first.at, 'EXPLAIN must be followed by a statement');
      checkSqliteVerb(text, tokens, j);
      return;
    }
    default:
      refuseVerb(text, first, SQLITE_REFUSED_VERBS, SQLITE_VERBS);
  }
}

/** MySQL: words and names refused anywhere in the statement. */
function checkMysqlTokens(text: string, tokens: readonly Token[], ownDatabase: string): void {
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.kind !== 'word' && t.kind !== 'qid') continue;
    const name = t.value.toLowerCase();
    const dotNext = tokens[i + 1]?.kind === 'punct' && tokens[i + 1].value === '.';
    if (SYSTEM_SCHEMAS.has(name) && dotNext) {
      fail('E_SQL_REFUSED', text, t.at, `${t.value} is a system database; a function can only use its own database (${ownDatabase})`);
    }
    if (t.kind !== 'word') continue;
    const next = tokens[i + 1];
    const reason = MYSQL_REFUSED_FUNCTIONS[name];
    if (reason !== undefined && next?.kind === 'punct' && next.value === '(') fail('E_SQL_REFUSED', text, t.at, `${name.toUpperCase()}() is not allowed: ${reason}`);
    const previous = tokens[i - 1];
    if (previous?.kind === 'word') {
      const pair = MYSQL_REFUSED_PAIRS.find(([before, word]) => word === name && before === previous.value);
      if (pair !== undefined) fail('E_SQL_REFUSED', text, previous.at, `${pair[0].toUpperCase()} ${pair[1].toUpperCase()} is not allowed: ${pair[2]}`);
    }
    if (name === 'engine') {
      let j = i + 1;
      if (tokens[j]?.kind === 'punct' && tokens[j].value === '=') j++;
      const engine = tokens[j];
      if (engine !== undefined && (engine.kind === 'word' || engine.kind === 'qid') && !LOCAL_ENGINES.has(engine.value.toLowerCase())) {
        fail('E_SQL_REFUSED', text, engine.at, `storage engine ${engine.kind === 'word' ? text.slice(engine.at, engine.at + engine.value.length) : engine.value} is not allowed: use InnoDB (the default), Aria, MyISAM or MEMORY`);
      }
    }
  }
}

/**
 * Index of the `;` that ends the first statement, or -1. In a SQLite `CREATE TRIGGER … BEGIN … END`
 * the semicolons between BEGIN and its END (counting `CASE … END` pairs) belong to the body.
 * Only one `begin`, at level 0, opens the body: SQLite accepts BEGIN and END as plain names
 * (its parser's fallback to ID), so a column named `begin` inside the body must not nest, or
 * `… BEGIN SELECT begin FROM t; END; DROP TABLE t` would pass as one statement. Once the body's
 * END closes it, nothing is counted any more. A word `end` used as a name only closes early, which
 * refuses a valid trigger rather than letting a second statement through.
 */
function statementEnd(tokens: readonly Token[], dialect: SqlDialect): number {
  const isTrigger = dialect === 'sqlite' && tokens[0]?.value === 'create'
    && tokens.slice(1, 4).some((t) => t.kind === 'word' && t.value === 'trigger');
  let depth = 0;
  let bodyOpened = false;
  let bodyClosed = false;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (isTrigger && !bodyClosed && t.kind === 'word') {
      if (t.value === 'case') depth++;
      else if (t.value === 'begin' && depth === 0 && !bodyOpened) {
        depth++;
        bodyOpened = true;
      } else if (t.value === 'end' && depth > 0) {
        depth--;
        bodyClosed = bodyOpened && depth === 0;
      }
    }
    if (t.kind === 'semicolon' && depth === 0) return i;
  }
  return -1;
}

/** The first top-level statement keyword after a `WITH …` clause. */
function verbAfterWith(tokens: readonly Token[], start: number): string {
  let depth = 0;
  for (let j = start + 1; j < tokens.length; j++) {
    const t = tokens[j];
    if (t.kind === 'punct' && t.value === '(') depth++;
    else if (t.kind === 'punct' && t.value === ')') depth--;
    else if (depth === 0 && t.kind === 'word' && ['select', 'insert', 'replace', 'update', 'delete', 'values', 'table'].includes(t.value)) return t.value;
  }
  return 'with';
}

/**
 * Check one `ctx.sql` statement before it reaches the database.
 * @param text the SQL as the function wrote it
 * @param dialect how to lex it (`mysql` also covers MariaDB)
 * @param ownDatabase the calling app's database name (MySQL: `faas_app_<app>`; unused on SQLite)
 * @returns what the host needs: the text to send, the `?` count, the verb, whether it inserts
 * @throws PlatformError E_SQL_REFUSED (a refused statement, word, name or placeholder form;
 *   details `line`, `column`), E_SQL_BAD_ARGUMENTS (empty text, unterminated literal)
 * @example checkStatement('SELECT * FROM scores WHERE user = ?', 'mysql', 'faas_app_game1') // { placeholders: 1, verb: 'select', … }
 */
export function checkStatement(text: string, dialect: SqlDialect, ownDatabase: string): StatementInfo {
  const tokens = tokenize(text, dialect);
  const semicolon = statementEnd(tokens, dialect);
  if (semicolon !== -1 && semicolon < tokens.length - 1) {
    fail('E_SQL_REFUSED', text, tokens[semicolon + 1].at, 'only one statement per call is allowed: split the statements into separate calls (use ctx.sql.transaction to run them atomically)');
  }
  const body = semicolon === -1 ? tokens : tokens.slice(0, semicolon);
  let first = 0;
  while (first < body.length && body[first].kind === 'punct' && body[first].value === '(') first++;
  if (body.length === 0) throw builtinError('E_SQL_BAD_ARGUMENTS', 'the SQL text is empty (only whitespace, comments or ";"): pass one statement');
  if (first >= body.length || body[first].kind !== 'word' || !/^[a-z]/.test(body[first].value)) {
    fail('E_SQL_BAD_ARGUMENTS', text, body[Math.min(first, body.length - 1)].at, 'a statement must start with a keyword such as SELECT or INSERT');
  }
  if (first > 0 && !READ_VERBS.has(body[first].value)) {
    fail('E_SQL_REFUSED', text, body[first].at, 'only a query (SELECT, WITH, VALUES, TABLE) may start with a parenthesis');
  }
  // Names of app databases (`faas_app…`) are refused on both backends, so a function gets the same
  // answer whichever backend runs it; on MySQL the grants refuse them too.
  for (const t of body) {
    if ((t.kind === 'word' || t.kind === 'qid') && t.value.toLowerCase().startsWith(APP_DATABASE_PREFIX) && t.value.toLowerCase() !== ownDatabase) {
      fail('E_SQL_REFUSED', text, t.at, `${t.value} names another app's database: a function can only use its own database; leave table names unqualified (names starting with ${APP_DATABASE_PREFIX} are reserved)`);
    }
  }
  if (dialect === 'mysql') {
    checkMysqlVerb(text, body, first);
    checkMysqlTokens(text, body, ownDatabase);
  } else {
    checkSqliteVerb(text, body, first);
  }
  const verb = body[first].value;
  const main = verb === 'with' ? verbAfterWith(body, first) : verb;
  return {
    text: semicolon === -1 ? text : text.slice(0, tokens[semicolon].at).trimEnd(),
    placeholders: body.reduce((count, t) => count + (t.kind === 'param' ? 1 : 0), 0),
    verb,
    inserts: main === 'insert' || main === 'replace',
    writesRows: main === 'insert' || main === 'replace' || main === 'update' || main === 'delete',
  };
}
