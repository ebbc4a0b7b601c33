/**
 * Side-by-side diff of two versions' code (@codemirror/merge `MergeView`, both sides read-only,
 * unchanged stretches collapsed). On a narrow window the same diff is shown unified (one column)
 * so it fits.
 */
import { MergeView, unifiedMergeView } from '@codemirror/merge';
import { EditorState } from '@codemirror/state';
import { EditorView } from '@codemirror/view';
import { useEffect, useRef } from 'react';
import { useMediaQuery } from '../hooks.ts';
import { baseExtensions } from '../editor/setup.ts';

export function DiffView({ left, right, leftLabel, rightLabel }: { left: string; right: string; leftLabel: string; rightLabel: string }) {
  const host = useRef<HTMLDivElement>(null);
  const narrow = useMediaQuery('(max-width: 760px)');
  useEffect(() => {
    const parent = host.current;
    if (parent === null) return;
    const collapse = { margin: 3, minSize: 6 };
    if (narrow) {
      const view = new EditorView({
        parent,
        state: EditorState.create({ doc: right, extensions: [baseExtensions(true), unifiedMergeView({ original: left, mergeControls: false, collapseUnchanged: collapse })] }),
      });
      return () => view.destroy();
    }
    const merge = new MergeView({
      parent,
      a: { doc: left, extensions: baseExtensions(true) },
      b: { doc: right, extensions: baseExtensions(true) },
      collapseUnchanged: collapse,
      gutter: true,
    });
    return () => merge.destroy();
  }, [left, right, narrow]);
  return (
    <div className="diff" data-testid="diff-view">
      <div className={`diff-labels${narrow ? ' diff-labels-unified' : ''}`}>
        <span className="diff-label diff-label-old">{leftLabel}</span>
        <span className="diff-label diff-label-new">{rightLabel}</span>
      </div>
      <div ref={host} className="diff-body" />
    </div>
  );
}
