/** Request bodies of the workloads, identical for every peer. */

/**
 * The `json` workload's body: a player's inventory, 1 KiB ± a few bytes of JSON
 * (`JSON_BODY.length` is printed with the results).
 */
export const JSON_BODY: string = (() => {
  const names = ['sword', 'shield', 'potion', 'bow', 'arrow', 'helmet', 'boots', 'ring', 'amulet', 'scroll', 'gem', 'map', 'key', 'torch'];
  const items = names.map((name, i) => ({ id: 1000 + i, name, qty: (i % 5) + 1, price: 10 + i * 7, rarity: i % 6 }));
  const body = { player: 'player-00042', season: 7, items, note: '' };
  const base = JSON.stringify(body).length;
  body.note = 'x'.repeat(Math.max(0, 1024 - base));
  return JSON.stringify(body);
})();

const PLAYERS = 1000;

/** A `leaderboard` body: one of 1,000 players chosen uniformly at random. */
export function leaderboardBody(): string {
  return `{"player":"p${Math.floor(Math.random() * PLAYERS)}"}`;
}
