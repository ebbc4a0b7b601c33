/**
 * Stopgap editing commands: undo/redo history, Enter with indentation, Tab indentation.
 *
 * These belong to `@codemirror/commands`, which is not installed: package.json pins
 * `codemirror@^6.65.7`, which is the legacy CodeMirror 5 line, not the CM6 meta package
 * (`codemirror@^6.0.x`, which brings `@codemirror/commands`). Once `@codemirror/commands` is a
 * dependency, replace this file by `history()`, `historyKeymap`, `defaultKeymap` and
 * `indentWithTab` from it.
 *
 * History model: every document change that is not an undo/redo pushes its inverse onto `done`;
 * changes of the same kind (typing, deleting) within `GROUP_MS` merge into one step. A change
 * dispatched with `Transaction.addToHistory.of(false)` (loading a version, an uploaded file)
 * starts a fresh history.
 */
import { Annotation, ChangeSet, EditorSelection, StateField, Transaction, type EditorState, type Extension, type StateCommand } from '@codemirror/state';
import { IndentContext, getIndentation, indentString, indentUnit } from '@codemirror/language';
import { keymap } from '@codemirror/view';

/** Changes closer together than this (ms) and of the same user event merge into one undo step. */
const GROUP_MS = 500;
const MAX_DEPTH = 200;

interface Entry {
  /** Changes that take the document back (for `done`) or forward (for `undone`). */
  changes: ChangeSet;
  /** Selection to restore with them. */
  selection: EditorSelection;
  time: number;
  event: string;
}

interface HistoryState {
  done: readonly Entry[];
  undone: readonly Entry[];
}

const fromHistory = Annotation.define<'undo' | 'redo'>();

function eventOf(tr: Transaction): string {
  for (const kind of ['input.type', 'delete', 'input.paste', 'input.drop', 'input']) {
    if (tr.isUserEvent(kind)) return kind;
  }
  return 'other';
}

const historyField = StateField.define<HistoryState>({
  create: () => ({ done: [], undone: [] }),
  update(value, tr) {
    if (!tr.docChanged) return value;
    const direction = tr.annotation(fromHistory);
    const inverse: Entry = { changes: tr.changes.invert(tr.startState.doc), selection: tr.startState.selection, time: tr.annotation(Transaction.time) ?? Date.now(), event: eventOf(tr) };
    if (direction === 'undo') return { done: value.done.slice(0, -1), undone: [...value.undone, inverse] };
    if (direction === 'redo') return { done: [...value.done, inverse], undone: value.undone.slice(0, -1) };
    if (tr.annotation(Transaction.addToHistory) === false) return { done: [], undone: [] };
    const last = value.done[value.done.length - 1];
    if (last !== undefined && inverse.event !== 'other' && last.event === inverse.event && inverse.time - last.time < GROUP_MS) {
      const merged: Entry = { changes: inverse.changes.compose(last.changes), selection: last.selection, time: inverse.time, event: last.event };
      return { done: [...value.done.slice(0, -1), merged], undone: [] };
    }
    return { done: [...value.done, inverse].slice(-MAX_DEPTH), undone: [] };
  },
});

function step(direction: 'undo' | 'redo'): StateCommand {
  return ({ state, dispatch }) => {
    const history = state.field(historyField, false);
    const stack = history === undefined ? [] : direction === 'undo' ? history.done : history.undone;
    const entry = stack[stack.length - 1];
    if (entry === undefined) return false;
    dispatch(state.update({
      changes: entry.changes,
      selection: entry.selection,
      annotations: [fromHistory.of(direction), Transaction.userEvent.of(direction)],
      scrollIntoView: true,
    }));
    return true;
  };
}

/** Undo the last change (group). */
export const undo: StateCommand = step('undo');
/** Redo the last undone change (group). */
export const redo: StateCommand = step('redo');

/** Depth of the undo (`done`) and redo (`undone`) stacks; 0 without the history extension. */
export function historyDepth(state: EditorState): { undo: number; redo: number } {
  const history = state.field(historyField, false);
  return { undo: history?.done.length ?? 0, redo: history?.undone.length ?? 0 };
}

/** Insert a line break and indent the new line as the language says (between `{}` the closer moves down a line). */
export const insertNewlineAndIndent: StateCommand = ({ state, dispatch }) => {
  const changes = state.changeByRange((range) => {
    const { from, to } = range;
    const before = state.sliceDoc(from - 1, from);
    const after = state.sliceDoc(to, to + 1);
    const explode = (before === '{' && after === '}') || (before === '[' && after === ']') || (before === '(' && after === ')');
    const cx = new IndentContext(state, { simulateBreak: from, simulateDoubleBreak: explode });
    let indent = getIndentation(cx, from);
    if (indent === null) indent = /^[ \t]*/.exec(state.doc.lineAt(from).text)?.[0].length ?? 0;
    let insert = state.lineBreak + indentString(state, indent);
    if (explode) insert += state.lineBreak + indentString(state, /^[ \t]*/.exec(state.doc.lineAt(from).text)?.[0].length ?? 0);
    return { changes: { from, to, insert }, range: EditorSelection.cursor(from + state.lineBreak.length + indentString(state, indent).length) };
  });
  dispatch(state.update(changes, { scrollIntoView: true, userEvent: 'input' }));
  return true;
};

/** The lines the selection touches, each once, in selection order. */
function selectedLines(state: EditorState): Array<{ from: number; text: string }> {
  const lines: Array<{ from: number; text: string }> = [];
  const seen = new Set<number>();
  for (const r of state.selection.ranges) {
    for (let pos = r.from; pos <= r.to;) {
      const line = state.doc.lineAt(pos);
      if (!seen.has(line.from)) {
        seen.add(line.from);
        lines.push({ from: line.from, text: line.text });
      }
      pos = line.to + 1;
    }
  }
  return lines;
}

/** Tab: insert one indent unit at an empty cursor, else indent every selected line. */
export const indentMore: StateCommand = ({ state, dispatch }) => {
  const unit = state.facet(indentUnit);
  if (state.selection.ranges.every((r) => r.empty)) {
    dispatch(state.update(state.replaceSelection(unit), { scrollIntoView: true, userEvent: 'input' }));
    return true;
  }
  const changes = selectedLines(state).map((line) => ({ from: line.from, insert: unit }));
  dispatch(state.update({ changes, userEvent: 'input.indent' }));
  return true;
};

/** Shift-Tab: remove up to one indent unit from every selected line. */
export const indentLess: StateCommand = ({ state, dispatch }) => {
  const width = state.facet(indentUnit).length;
  const changes = [];
  for (const line of selectedLines(state)) {
    const lead = /^[ \t]*/.exec(line.text)?.[0] ?? '';
    const remove = lead.startsWith('\t') ? 1 : Math.min(width, lead.length);
    if (remove > 0) changes.push({ from: line.from, to: line.from + remove });
  }
  if (changes.length === 0) return false;
  dispatch(state.update({ changes, userEvent: 'delete.dedent' }));
  return true;
};

/** History plus the key bindings above (Mod-z, Mod-y / Mod-Shift-z, Enter, Tab, Shift-Tab). */
export function basicCommands(): Extension {
  return [
    historyField,
    keymap.of([
      { key: 'Mod-z', run: undo, preventDefault: true },
      { key: 'Mod-y', run: redo, preventDefault: true },
      { key: 'Mod-Shift-z', run: redo, preventDefault: true },
      { key: 'Enter', run: insertNewlineAndIndent },
      { key: 'Tab', run: indentMore },
      { key: 'Shift-Tab', run: indentLess },
    ]),
  ];
}
