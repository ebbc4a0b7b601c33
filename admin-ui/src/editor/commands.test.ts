import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { javascript } from '@codemirror/lang-javascript';
import { EditorSelection, EditorState, Transaction, type StateCommand } from '@codemirror/state';
import { basicCommands, historyDepth, indentLess, indentMore, insertNewlineAndIndent, redo, undo } from './commands.ts';

function editor(doc: string, cursor = doc.length) {
  let state = EditorState.create({ doc, selection: EditorSelection.cursor(cursor), extensions: [basicCommands(), javascript()] });
  return {
    get state() { return state; },
    type(text: string, time: number) {
      state = state.update({ changes: { from: state.selection.main.head, insert: text }, selection: EditorSelection.cursor(state.selection.main.head + text.length), userEvent: 'input.type', annotations: Transaction.time.of(time) }).state;
    },
    run(command: StateCommand): boolean {
      return command({ state, dispatch: (tr) => { state = tr.state; } });
    },
  };
}

describe('stopgap editor commands', () => {
  it('undo reverts a burst of typing as one step; redo brings it back', () => {
    const e = editor('let a;');
    e.type(' x', 1000);
    e.type('y', 1100);
    e.type('z', 5000);
    assert.equal(e.state.doc.toString(), 'let a; xyz');
    assert.deepEqual(historyDepth(e.state), { undo: 2, redo: 0 });
    assert.ok(e.run(undo));
    assert.equal(e.state.doc.toString(), 'let a; xy');
    assert.ok(e.run(undo));
    assert.equal(e.state.doc.toString(), 'let a;');
    assert.equal(e.run(undo), false, 'nothing left to undo');
    assert.ok(e.run(redo));
    assert.ok(e.run(redo));
    assert.equal(e.state.doc.toString(), 'let a; xyz');
    assert.equal(e.run(redo), false);
  });

  it('a new edit after undo drops the redo stack; a load outside history starts afresh', () => {
    const e = editor('');
    e.type('a', 0);
    e.run(undo);
    e.type('b', 10_000);
    assert.equal(e.run(redo), false);
    const loaded = e.state.update({ changes: { from: 0, to: e.state.doc.length, insert: 'loaded' }, annotations: Transaction.addToHistory.of(false) }).state;
    assert.deepEqual(historyDepth(loaded), { undo: 0, redo: 0 });
  });

  it('Enter indents the new line; between braces the closer moves down', () => {
    const e = editor('function f() {}', 14);
    e.run(insertNewlineAndIndent);
    assert.equal(e.state.doc.toString(), 'function f() {\n  \n}');
    assert.equal(e.state.selection.main.head, 17);
  });

  it('Tab inserts an indent unit at a cursor and indents selected lines; Shift-Tab takes it back', () => {
    const e = editor('a\nb', 0);
    e.run(indentMore);
    assert.equal(e.state.doc.toString(), '  a\nb');
    const all = e.state.update({ selection: EditorSelection.range(0, e.state.doc.length) }).state;
    let state = all;
    indentMore({ state, dispatch: (tr) => { state = tr.state; } });
    assert.equal(state.doc.toString(), '    a\n  b');
    indentLess({ state, dispatch: (tr) => { state = tr.state; } });
    assert.equal(state.doc.toString(), '  a\nb');
  });
});
