// The workerd peer: the shared handlers served as one Worker.
//   ANY /hello, /json  → the handler through adapter.js
//   ANY /cold/<id>     → a fresh dynamic Worker (Worker Loader binding, workerd --experimental)
//                        named <id>, made of the same adapter and the hello handler with a comment
//                        that names <id>; the first request to a new <id> pays its startup.
import { toFetch } from './adapter.js';
import hello from './hello.js';
import json from './json.js';

const routes = { '/hello': toFetch(hello), '/json': toFetch(json) };
const ENTRY = "import { toFetch } from './adapter.js'; import handler from './handler.js'; export default { fetch: toFetch(handler) };";

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname.startsWith('/cold/')) {
      const id = url.pathname.slice('/cold/'.length);
      const worker = env.LOADER.get(id, () => ({
        compatibilityDate: env.COMPAT_DATE,
        mainModule: 'entry.js',
        modules: { 'entry.js': ENTRY, 'adapter.js': env.ADAPTER_SRC, 'handler.js': `${env.HELLO_SRC}\n// cold start ${id}\n` },
      }));
      return worker.getEntrypoint().fetch(request);
    }
    const route = routes[url.pathname];
    return route === undefined ? new Response('not found', { status: 404 }) : route(request);
  },
};
