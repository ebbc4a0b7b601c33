// Workload `json`: parse a ~1 KiB JSON body (done by each peer's HTTP layer: req.body is the
// parsed object), transform it, return it. The transform touches every item, so the work scales
// with the body and cannot be skipped.
export default async function handler(req, ctx) {
  const body = req.body;
  if (body === null || typeof body !== 'object' || !Array.isArray(body.items)) {
    return { error: 'expected { player, items: [...] }' };
  }
  let total = 0;
  const items = body.items.map((item) => {
    total += item.qty * item.price;
    return { id: item.id, name: item.name.toUpperCase(), qty: item.qty, price: item.price, value: item.qty * item.price, rare: item.rarity >= 4 };
  });
  return { player: body.player, season: body.season, count: items.length, total, items: items.reverse() };
}
