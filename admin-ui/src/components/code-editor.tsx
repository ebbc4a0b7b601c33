/**
 * The code editor (CodeMirror 6) as a React component. The view is created once; new content is
 * pushed through the `ref` handle (`load`) so typing never round-trips through React state.
 */
import { setDiagnostics } from '@codemirror/lint';
import { EditorSelection, EditorState, Transaction } from '@codemirror/state';
import { EditorView } from '@codemirror/view';
import { useEffect, useImperativeHandle, useRef, type Ref } from 'react';
import { placeDiagnostics } from '../diagnostics.ts';
import { baseExtensions, platformLinter, type CheckStatus } from '../editor/setup.ts';
import type { CheckDiagnostic, CheckReport } from '../types.ts';

/** Imperative handle of `CodeEditor`. */
export interface CodeEditorHandle {
  /** Replace the whole text (not undoable: a new starting point). */
  load(code: string): void;
  /** The current text. */
  value(): string;
  /** Show these diagnostics now (e.g. from a refused deploy), until the next check replaces them. */
  showDiagnostics(diagnostics: readonly CheckDiagnostic[]): void;
  /** Put the cursor at a UTF-16 offset and scroll it into view. */
  focusAt(offset: number): void;
}

export function CodeEditor({ ref, initial, onChange, check, onCheckStatus, readOnly = false, label }: {
  ref?: Ref<CodeEditorHandle>;
  initial: string;
  onChange?: (code: string) => void;
  /** Enables inline diagnostics from the platform checker. */
  check?: (code: string) => Promise<CheckReport>;
  onCheckStatus?: (status: CheckStatus) => void;
  readOnly?: boolean;
  label: string;
}) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const callbacks = useRef({ onChange, check, onCheckStatus });
  callbacks.current = { onChange, check, onCheckStatus };

  useEffect(() => {
    if (host.current === null) return;
    const withLint = callbacks.current.check !== undefined;
    const created = new EditorView({
      parent: host.current,
      state: EditorState.create({
        doc: initial,
        extensions: [
          baseExtensions(readOnly),
          withLint ? platformLinter((code) => (callbacks.current.check as (c: string) => Promise<CheckReport>)(code), (s) => callbacks.current.onCheckStatus?.(s)) : [],
          EditorView.updateListener.of((update) => {
            if (update.docChanged) callbacks.current.onChange?.(update.state.doc.toString());
          }),
          EditorView.contentAttributes.of({ 'aria-label': label }),
        ],
      }),
    });
    view.current = created;
    return () => {
      created.destroy();
      view.current = null;
    };
    // The view is created once per mount; later `initial` values go through `load`.
  }, [readOnly]);

  useImperativeHandle(ref, () => ({
    load(code: string) {
      const v = view.current;
      if (v === null) return;
      v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: code }, annotations: Transaction.addToHistory.of(false), selection: EditorSelection.cursor(0) });
    },
    value() {
      return view.current?.state.doc.toString() ?? '';
    },
    showDiagnostics(diagnostics) {
      const v = view.current;
      if (v === null) return;
      const placed = placeDiagnostics(v.state.doc.toString(), diagnostics);
      v.dispatch(setDiagnostics(v.state, placed.map((p) => ({ from: p.from, to: p.to, severity: p.severity, message: p.message, source: 'deploy' }))));
    },
    focusAt(offset: number) {
      const v = view.current;
      if (v === null) return;
      const pos = Math.min(Math.max(0, offset), v.state.doc.length);
      v.dispatch({ selection: EditorSelection.cursor(pos), scrollIntoView: true });
      v.focus();
    },
  }), []);

  return <div ref={host} className={`editor${readOnly ? ' editor-readonly' : ''}`} data-testid="code-editor" />;
}
