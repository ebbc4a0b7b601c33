// Workload `hello`: the smallest useful answer, a short JSON object.
// Served unchanged by every peer: bare fastify (imported natively), workerd (as a module of the
// Worker) and the platform (deployed as a function).
export default async function handler(req, ctx) {
  return { hello: 'world', ok: true };
}
