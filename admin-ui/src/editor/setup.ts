/**
 * CodeMirror 6 configuration of the console's editors: JavaScript highlighting, line numbers,
 * brackets, folding, completion, the stopgap commands (commands.ts), and a light theme. The
 * platform linter (`platformLinter`) runs `POST /api/check` as the user types.
 */
import { autocompletion, closeBrackets, closeBracketsKeymap, completionKeymap } from '@codemirror/autocomplete';
import { javascript } from '@codemirror/lang-javascript';
import { bracketMatching, defaultHighlightStyle, foldGutter, foldKeymap, indentOnInput, syntaxHighlighting } from '@codemirror/language';
import { linter, lintGutter, lintKeymap, type Diagnostic } from '@codemirror/lint';
import { EditorState, type Extension } from '@codemirror/state';
import { drawSelection, dropCursor, EditorView, highlightActiveLine, highlightActiveLineGutter, highlightSpecialChars, keymap, lineNumbers } from '@codemirror/view';
import { placeDiagnostics, type PlacedDiagnostic } from '../diagnostics.ts';
import type { CheckReport } from '../types.ts';
import { basicCommands } from './commands.ts';

/** Wait after the last keystroke before checking, in ms. */
export const CHECK_DELAY_MS = 300;

const theme = EditorView.theme({
  '&': { fontSize: '13px', backgroundColor: '#fff' },
  '.cm-content': { fontFamily: 'var(--mono)' },
  '.cm-gutters': { backgroundColor: '#f6f8fa', color: '#8b949e', borderRight: '1px solid #e5e7eb' },
  '.cm-activeLineGutter': { backgroundColor: '#eef2ff' },
  '.cm-activeLine': { backgroundColor: '#f8faff' },
  '&.cm-focused': { outline: 'none' },
  '.cm-tooltip-lint': { maxWidth: 'min(560px, 90vw)' },
  '.cm-diagnosticText': { whiteSpace: 'pre-wrap' },
});

/** Everything but the linter, for editable (`readOnly: false`) or read-only editors. */
export function baseExtensions(readOnly: boolean): Extension[] {
  return [
    lineNumbers(),
    foldGutter(),
    highlightSpecialChars(),
    drawSelection(),
    syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
    bracketMatching(),
    javascript(),
    theme,
    EditorView.lineWrapping,
    EditorState.readOnly.of(readOnly),
    EditorView.editable.of(!readOnly),
    ...(readOnly ? [] : [
      highlightActiveLineGutter(),
      highlightActiveLine(),
      dropCursor(),
      indentOnInput(),
      closeBrackets(),
      autocompletion(),
      basicCommands(),
      keymap.of([...closeBracketsKeymap, ...completionKeymap, ...foldKeymap, ...lintKeymap]),
    ]),
  ];
}

/** What the linter reports back to the page after each check. */
/** A placed diagnostic with its position as the editor numbers lines (differs from the checker's after a U+2028/U+2029). */
export interface EditorDiagnostic extends PlacedDiagnostic {
  editorLine: number;
  editorColumn: number;
}

export type CheckStatus =
  | { state: 'checking' }
  | { state: 'done'; ok: boolean; diagnostics: EditorDiagnostic[]; truncated: boolean }
  | { state: 'failed'; error: unknown };

/**
 * Inline diagnostics from the platform's own checker, debounced by `CHECK_DELAY_MS`. A result for
 * text that has changed since is dropped by @codemirror/lint (it compares documents); a failed
 * check (network, 401) is reported through `onStatus` and shows no markers.
 * @param check calls `POST /api/check`
 * @param onStatus receives every state change, for the problems list beside the editor
 */
export function platformLinter(check: (code: string) => Promise<CheckReport>, onStatus: (status: CheckStatus) => void): Extension {
  return [
    linter(async (view): Promise<Diagnostic[]> => {
      const doc = view.state.doc;
      const code = doc.toString();
      onStatus({ state: 'checking' });
      let report: CheckReport;
      try {
        report = await check(code);
      } catch (error) {
        if (view.state.doc === doc) onStatus({ state: 'failed', error });
        return [];
      }
      const placed = placeDiagnostics(code, report.diagnostics);
      if (view.state.doc === doc) {
        const located = placed.map((p) => {
          const line = doc.lineAt(p.from);
          return { ...p, editorLine: line.number, editorColumn: p.from - line.from + 1 };
        });
        onStatus({ state: 'done', ok: report.ok, diagnostics: located, truncated: report.truncated === true });
      }
      return placed.map((p) => ({ from: p.from, to: p.to, severity: p.severity, message: p.message, source: 'platform check' }));
    }, { delay: CHECK_DELAY_MS }),
    lintGutter(),
  ];
}
