import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { loadDashboard, type Dashboard } from '@phoenix/dashboard';
import { MasterErrors } from '../errors.js';

export const DASHBOARD_MOUNT = '/ui/';

/**
 * Serves the web dashboard at /ui/ (and sends / there). The page and its scripts are open: they hold
 * no data, and every call they make carries the user's bearer token. Only the files the dashboard
 * package lists are served, from memory, so no request path ever reaches the file system.
 */
export function mountDashboard(app: FastifyInstance, log: Logger, load: () => Dashboard = loadDashboard): void {
  let dashboard: Dashboard;
  try {
    dashboard = load();
  } catch (err) {
    log.warn({ err }, 'the dashboard is not served');
    return;
  }
  const send = (reply: FastifyReply, path: string): FastifyReply => {
    const asset = dashboard.assets.get(path);
    if (asset === undefined) {
      return reply
        .status(404)
        .send({ error: { code: MasterErrors.PHX_API_NOT_FOUND.code, message: `no dashboard file ${path}` } });
    }
    return reply
      .header('content-security-policy', dashboard.contentSecurityPolicy)
      .header('x-content-type-options', 'nosniff')
      .header('x-frame-options', 'DENY')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-cache')
      .type(asset.contentType)
      .send(asset.body);
  };
  app.get('/', (_request, reply) => reply.redirect(DASHBOARD_MOUNT));
  app.get('/ui', (_request, reply) => reply.redirect(DASHBOARD_MOUNT));
  app.get(DASHBOARD_MOUNT, (_request, reply) => send(reply, 'index.html'));
  app.get<{ Params: { '*': string } }>(`${DASHBOARD_MOUNT}*`, (request, reply) => send(reply, request.params['*']));
}
