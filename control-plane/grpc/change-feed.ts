/**
 * The numbered change feed behind gRPC `WatchDeploys`: every `ChangeEvent` the control plane
 * publishes gets the next sequence number of this process's epoch and is kept in a bounded ring,
 * so a runtime that reconnects can ask for what it missed (proto/README.md, "Sequence and
 * catch-up").
 */
import { randomUUID } from 'node:crypto';
import type { ChangeEvent } from '../core/types.ts';

/** A change with its position in the feed. */
export interface SequencedChange {
  /** 1, 2, 3 … within `ChangeFeed.epoch`. */
  sequence: number;
  /** Epoch ms when it was published. */
  timeMs: number;
  change: ChangeEvent;
}

/**
 * See the module comment. Sequences are in memory only: a restarted control plane has a new
 * `epoch`, and clients of the old one are told to reset.
 */
export class ChangeFeed {
  /** Random id of this feed; sequences restart with it. */
  readonly epoch: string = randomUUID();
  readonly #capacity: number;
  readonly #ring: SequencedChange[] = [];
  readonly #listeners = new Set<(event: SequencedChange) => void>();
  #sequence = 0;

  /**
   * @param capacity events kept for catch-up (1..1_000_000). @default 1024
   * @throws TypeError (ERR_INVALID_ARG_VALUE) when `capacity` is out of range
   */
  constructor(capacity = 1024) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1_000_000) {
      throw Object.assign(new TypeError(`ChangeFeed: capacity must be an integer between 1 and 1000000, got ${capacity}`), { code: 'ERR_INVALID_ARG_VALUE' });
    }
    this.#capacity = capacity;
  }

  /** Sequence of the newest event (0 before the first). */
  get lastSequence(): number {
    return this.#sequence;
  }

  /** Number the change, keep it in the ring (dropping the oldest past capacity) and tell every subscriber. */
  publish(change: ChangeEvent): SequencedChange {
    const event: SequencedChange = { sequence: ++this.#sequence, timeMs: Date.now(), change: { ...change } };
    this.#ring.push(event);
    if (this.#ring.length > this.#capacity) this.#ring.splice(0, this.#ring.length - this.#capacity);
    for (const listener of [...this.#listeners]) listener(event);
    return event;
  }

  /**
   * The events after `sequence` of `epoch`, oldest first; null when the position cannot be
   * resumed: another epoch, a sequence this feed never reached, or one whose successors already
   * left the ring.
   */
  since(epoch: string, sequence: number): SequencedChange[] | null {
    if (epoch !== this.epoch || !Number.isInteger(sequence) || sequence < 0 || sequence > this.#sequence) return null;
    if (sequence === this.#sequence) return [];
    const oldest = this.#ring[0];
    if (oldest === undefined || sequence < oldest.sequence - 1) return null;
    return this.#ring.slice(sequence - oldest.sequence + 1);
  }

  /** Call `listener` for every event published from now on; returns the unsubscribe function. */
  subscribe(listener: (event: SequencedChange) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }
}
