/**
 * The follow part of the Zipf scenario: deterministic follow/unfollow scripts per player and
 * room open/close scripts per streamer, and an independent model of what the platform must
 * answer afterwards (follower counts, each player's live-now list), computed only from the
 * events that were sent and the answers they got.
 *
 * Only a player changes its own follow edges and each player's events are sent one after the
 * other, so each edge's final state is a pure function of that player's script; likewise each
 * streamer's room state depends only on its own script. The model therefore needs no timing.
 */
import { createRng, createZipf, randomInt } from './zipf.ts';

/** Streamers 0..ROOM_STREAMERS-1 own a room (`room-00` …); the rest are followed but never stream. */
export interface FollowUniverse {
  /** All streamer ids, most popular first. */
  streamers: string[];
  /** streamer id → the room it opens at the start (only streamers with a room). */
  firstRoom: Map<string, string>;
}

/** A follow-service event of one player (one union member per kind, so `kind` narrows). */
export type FollowEvent =
  | { kind: 'follow'; player: string; streamer: string }
  | { kind: 'unfollow'; player: string; streamer: string };

/** What a streamer does to its room after the viewers' load: keep it, close it, or close it and open another. */
export interface RoomChange {
  streamer: string;
  room: string;
  action: 'keep' | 'close' | 'switch';
  /** The new room for `switch`. */
  next?: string;
}

export const streamerId = (rank: number): string => `streamer-${rank}`;

/**
 * The streamers: `withRooms` of them own `roomIdOf(rank)`, `offline` more never open a room.
 */
export function buildUniverse(withRooms: number, offline: number, roomIdOf: (rank: number) => string): FollowUniverse {
  const streamers = Array.from({ length: withRooms + offline }, (_, rank) => streamerId(rank));
  const firstRoom = new Map(Array.from({ length: withRooms }, (_, rank) => [streamerId(rank), roomIdOf(rank)] as const));
  return { streamers, firstRoom };
}

/**
 * Per-player follow scripts: 1..5 actions, each a follow of a Zipf-chosen streamer (s = `zipfS`;
 * sometimes one the player already follows, which must change nothing) or, one time in five, an
 * unfollow of a streamer the player follows (or, if none, of a random one: a no-op).
 * @param players player ids, in order; the scripts are a pure function of `seed` and this list
 */
export function buildFollowScripts(seed: number, players: readonly string[], universe: FollowUniverse, zipfS: number): FollowEvent[][] {
  const rng = createRng(seed);
  const zipf = createZipf(universe.streamers.length, zipfS, rng);
  return players.map((player) => {
    const following: string[] = [];
    const script: FollowEvent[] = [];
    const actions = randomInt(rng, 1, 5);
    for (let i = 0; i < actions; i++) {
      if (rng() < 0.2) {
        const streamer = following.length > 0
          ? following.splice(randomInt(rng, 0, following.length - 1), 1)[0]
          : universe.streamers[randomInt(rng, 0, universe.streamers.length - 1)];
        script.push({ kind: 'unfollow', player, streamer });
      } else {
        const streamer = universe.streamers[zipf.sample()];
        if (!following.includes(streamer)) following.push(streamer);
        script.push({ kind: 'follow', player, streamer });
      }
    }
    return script;
  });
}

/** What each streamer with a room does after the load: 55% keep, 30% close, 15% close and open `<room>-b`. */
export function buildRoomChanges(seed: number, universe: FollowUniverse): RoomChange[] {
  const rng = createRng(seed);
  return [...universe.firstRoom].map(([streamer, room]) => {
    const r = rng();
    if (r < 0.55) return { streamer, room, action: 'keep' };
    if (r < 0.85) return { streamer, room, action: 'close' };
    return { streamer, room, action: 'switch', next: `${room}-b` };
  });
}

/** The model's view of the follow service after all events. */
export class FollowModel {
  /** player → streamers it follows, in follow order. */
  readonly following = new Map<string, string[]>();
  /** streamer → the room it has open now. */
  readonly live = new Map<string, string>();
  /** Replies that disagree with the model (e.g. `changed` wrong), for the failure message. */
  readonly mismatches: string[] = [];

  /**
   * Apply a follow event that got a 200, checking its `changed` flag against the model.
   * Events of one player must be applied in the order that player sent them.
   */
  applyFollow(event: FollowEvent, changed: unknown): void {
    const list = this.following.get(event.player) ?? [];
    const had = list.includes(event.streamer);
    const expected = event.kind === 'follow' ? !had : had;
    if (changed !== expected) this.mismatches.push(`${event.kind} ${event.player} → ${event.streamer}: changed=${String(changed)}, model says ${expected}`);
    if (event.kind === 'follow' && !had) list.push(event.streamer);
    if (event.kind === 'unfollow' && had) list.splice(list.indexOf(event.streamer), 1);
    this.following.set(event.player, list);
  }

  /** Record that `streamer` has `room` open (null: offline). */
  setLive(streamer: string, room: string | null): void {
    if (room === null) this.live.delete(streamer);
    else this.live.set(streamer, room);
  }

  /** streamer → how many players follow it (0 for streamers nobody follows). */
  followerCounts(streamers: readonly string[]): Map<string, number> {
    const counts = new Map(streamers.map((s) => [s, 0]));
    for (const list of this.following.values()) for (const s of list) counts.set(s, (counts.get(s) ?? 0) + 1);
    return counts;
  }

  /** Players following `streamer`. */
  followersOf(streamer: string): string[] {
    return [...this.following].filter(([, list]) => list.includes(streamer)).map(([player]) => player);
  }

  /**
   * `streamer@room` for each followed streamer that is live, sorted. (/me/live answers in follow
   * time order with ties broken by id, which the model cannot know for follows in the same ms.)
   */
  liveNow(player: string): string[] {
    return (this.following.get(player) ?? []).filter((s) => this.live.has(s)).map((s) => `${s}@${this.live.get(s)}`).sort();
  }
}
