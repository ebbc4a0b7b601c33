// The platform's own module, importable by functions as `import { response, HttpError } from 'faas'`.
// Compiled and evaluated in every isolate by runtime/sandbox/prepared-isolate.ts; the values come from
// isolate-bootstrap.js, which runs first.
const platform = globalThis.__faasModule;
export const response = platform.response;
export const HttpError = platform.HttpError;
export default platform;
