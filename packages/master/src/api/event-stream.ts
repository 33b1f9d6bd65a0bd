import type { ClusterEvent } from '../events.js';
import { API_ANSWER_HEADERS, route, type AnyRoute } from './route.js';
import type { ApiContext } from './context.js';

/**
 * GET /events: this master's cluster events as server-sent events, one `data:` line of JSON each,
 * with a comment line every keepAliveMs so proxies and load balancers keep the connection open.
 */
export function eventRoutes(deps: ApiContext): AnyRoute[] {
  return [
    route('events', async ({ query }, request, reply) => {
      const prefixes = query.tag === undefined ? [] : Array.isArray(query.tag) ? query.tag : [query.tag];
      const wanted = (event: ClusterEvent): boolean =>
        prefixes.length === 0 || prefixes.some((prefix) => event.tag.startsWith(prefix));
      // Counted against the caller's token before anything is written: over its share is a 429.
      const release = deps.onStreamOpen(() => reply.raw.end(), request.caller?.name ?? 'unknown');
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream',
        ...API_ANSWER_HEADERS,
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      raw.write(`: connected to ${deps.masterId}\n\n`);
      const stop = deps.events.on((event) => {
        if (wanted(event)) raw.write(`data: ${JSON.stringify(event)}\n\n`);
      });
      const keepAlive = setInterval(() => raw.write(': keep-alive\n\n'), query.keepAliveMs);
      raw.on('close', () => {
        stop();
        clearInterval(keepAlive);
        release();
      });
      request.log.debug({ prefixes }, 'event stream opened');
      return reply;
    }),
  ];
}
