import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { ReloadOutcome } from '../detect/reload.js';
import { HolterError } from '../errors.js';
import type { Logger } from '../log.js';
import { createMetrics, type MetricsSnapshot } from './metrics.js';
import { findToken, roleAllows, type ApiRole, type ApiToken } from './tokens.js';

/**
 * State for the readiness probe: ready while the consumer is a member of its group. Otherwise
 * `status` is a short code (`starting`, `rebalancing`, `restarting`, `stopped`) and `reason` a
 * sentence for the operator.
 */
export type Readiness = { ready: true } | { ready: false; status: string; reason: string };

/** Handlers of the process behind the API. Endpoints whose handler is missing return 404. */
export interface ApiHandlers {
  /** Whether the process consumes its input now; the readiness probe returns 503 while it does not. */
  readiness(): Readiness;
  metrics(): MetricsSnapshot;
  reload?(): Promise<ReloadOutcome>;
  /** A user's learned profile as plain data, or undefined when no detector has seen the user. */
  baseline?(user: string): unknown;
  /**
   * Message on why a user missing from the baselines may still have one (partitions whose state
   * is not restored yet), or undefined when the baselines are complete. The baseline route then
   * returns 503 with this message instead of a 404 that could be false.
   */
  baselineUnavailable?(): string | undefined;
  /**
   * Ids of detectors whose saved state is held but not shown, because their files failed to load.
   * The baseline route names them, so a missing or partial profile is not read as a user without
   * history.
   */
  baselineHeld?(): string[];
}

export interface ApiServerOptions {
  /** `host:port`; port 0 picks a free one. */
  listen: string;
  /** Clients allowed to call the /api routes. Without any, those routes reject every call. */
  tokens: readonly ApiToken[];
  handlers: ApiHandlers;
  logger: Logger;
}

export interface ApiServer {
  /** The address it listens on, as `http://host:port`. */
  url: string;
  close(): Promise<void>;
}

/**
 * Starts the HTTP API: /healthz and /readyz for probes, /metrics for Prometheus (both without a
 * token, as probes and scrapers usually run without one), and the /api routes behind bearer tokens
 * with roles.
 */
export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const { host, port } = parseListen(options.listen);
  const app = buildApiApp(options);
  try {
    await app.listen({ host, port });
  } catch (error) {
    throw new HolterError('HOLTER_CONFIG_INVALID', `The HTTP API could not listen on ${options.listen}: ${(error as Error).message}. Pick a free port in api.listen.`, {
      cause: error,
      path: 'api.listen',
    });
  }

  const address = app.server.address();
  const boundPort = typeof address === 'object' && address !== null ? address.port : port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
  options.logger.info({ url }, 'http api listening');
  return { url, close: () => app.close() };
}

/** Builds the routes without listening, so tests can inject requests. */
export function buildApiApp(options: ApiServerOptions): FastifyInstance {
  const { handlers, tokens, logger } = options;
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
  const metrics = createMetrics(() => handlers.metrics());

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const readiness = handlers.readiness();
    if (readiness.ready) return { status: 'ready' };
    return reply.code(503).send({ status: readiness.status, reason: readiness.reason });
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.scrape();
    return reply.type(metrics.registry.contentType).send(text);
  });

  // Fastify's own logger is off, so without this hook an error that Fastify turns into a response,
  // such as a body that is not JSON or is over bodyLimit, would leave no trace.
  app.addHook('onError', async (request, reply, error) => {
    // The same status rule as Fastify's default error handler, which has not run yet.
    let status = 500;
    if (error.statusCode !== undefined && error.statusCode >= 400) status = error.statusCode;
    else if (reply.statusCode >= 400) status = reply.statusCode;
    const fields = { method: request.method, route: request.routeOptions.url, status, reason: error.code ?? error.name };
    if (status < 500) logger.info(fields, 'http api request rejected');
    else logger.error({ ...fields, err: error }, 'http api request failed');
  });

  // Protected routes run this as an onRequest hook because Fastify parses the body only after the
  // onRequest and preParsing hooks (docs/Reference/Lifecycle.md in Fastify 5). A caller without a
  // valid token therefore gets 401 or 403 whatever the body is, and the body is never parsed.
  const authorize = (role: ApiRole) => async (request: FastifyRequest, reply: FastifyReply) => {
    const denial = checkBearer(request, tokens, role);
    if (denial === undefined) return;
    logger.warn(
      { method: request.method, route: request.routeOptions.url, status: denial.status, reason: denial.reason, tokenName: denial.tokenName },
      'http api request denied',
    );
    return reply.code(denial.status).header('www-authenticate', 'Bearer').send({ error: denial.message });
  };

  const reload = handlers.reload;
  if (reload !== undefined) {
    app.post('/api/v1/reload', { onRequest: authorize('operator') }, async (_request, reply) => {
      const outcome = await reload();
      return reply.code(outcome.outcome === 'reloaded' ? 200 : 422).send(outcome);
    });
  }

  const baseline = handlers.baseline;
  if (baseline !== undefined) {
    app.get<{ Params: { user: string } }>('/api/v1/baseline/:user', { onRequest: authorize('analyst') }, async (request, reply) => {
      const profile = baseline(request.params.user);
      const heldDetectors = handlers.baselineHeld?.() ?? [];
      if (profile !== undefined) return heldDetectors.length === 0 ? profile : { ...(profile as Record<string, unknown>), heldDetectors };

      const unavailable = handlers.baselineUnavailable?.();
      if (unavailable !== undefined) return reply.code(503).header('retry-after', '5').send({ error: unavailable });
      if (heldDetectors.length > 0) {
        const error = `No loaded detector has a baseline for this user. The saved state of ${heldDetectors.join(', ')} is held but not shown, because the detector files failed to load. Fix them and reload.`;
        return reply.code(404).send({ error, heldDetectors });
      }
      return reply.code(404).send({ error: 'No detector has a baseline for this user yet.' });
    });
  }

  return app;
}

/** Rejection of an /api call, with the status and message for the client and the reason and token name for the log. */
interface Denial {
  status: 401 | 403;
  message: string;
  reason: 'no tokens configured' | 'missing bearer token' | 'unknown token' | 'role not allowed';
  tokenName?: string;
}

function checkBearer(request: FastifyRequest, tokens: readonly ApiToken[], role: ApiRole): Denial | undefined {
  if (tokens.length === 0) {
    return { status: 401, reason: 'no tokens configured', message: 'No API tokens are configured, so /api routes are closed. Set api.tokens_file.' };
  }
  const header = request.headers.authorization;
  const match = header === undefined ? null : /^Bearer\s+(\S+)$/i.exec(header);
  if (match === null) return { status: 401, reason: 'missing bearer token', message: 'Send the token as Authorization: Bearer TOKEN.' };

  const token = findToken(tokens, match[1]!);
  if (token === undefined) return { status: 401, reason: 'unknown token', message: 'Unknown token.' };
  if (!roleAllows(token.role, role)) {
    return { status: 403, reason: 'role not allowed', tokenName: token.name, message: `This route needs the ${role} role; token ${token.name} has ${token.role}.` };
  }
  return undefined;
}

/** Splits `host:port` (or `[v6]:port`); rejects anything else with the value and an example. */
export function parseListen(listen: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(listen);
  const port = match === null ? Number.NaN : Number(match[3]);
  if (match === null || port > 65535) {
    throw new HolterError('HOLTER_CONFIG_INVALID', `Invalid api.listen ${JSON.stringify(listen)}. Write host:port, e.g. 127.0.0.1:9464.`, { path: 'api.listen' });
  }
  return { host: (match[1] ?? match[2])!, port };
}
