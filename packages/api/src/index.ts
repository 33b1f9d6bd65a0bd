// The REST contract of the master's API: where each route is (routes.ts), what it takes and answers
// (contract.ts, with the shapes in schemas.ts) and the OpenAPI document written from them. The
// typed client is `@phoenix/api/client`.
export * from './routes.js';
export * from './schemas.js';
export * from './contract.js';
export { openApiDocument } from './openapi.js';
