import { errors, type Client } from '@elastic/elasticsearch';
import { HolterError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { createElasticsearchClient, type ElasticsearchConfig } from './client.js';
import { backoffMs, describeRequestError, shouldLogAttempt } from './retry.js';

/** Options of `checkElasticsearchAtStart`; tests inject the clock and the sleep. */
export interface PreflightOptions {
  logger: Logger;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/** Verdict on an error of the start check: retry (the cluster may be down or starting) or stop (a configuration error). */
export type PreflightFailure = 'unreachable' | 'misconfigured';

/**
 * Replaces the user name and password of a node URL with `***`, so the URL can go into logs and
 * error messages. A string that is not a URL is kept only up to its first `@`, for the same reason.
 */
export function maskNodeUrl(node: string): string {
  let url: URL;
  try {
    url = new URL(node);
  } catch {
    const at = node.lastIndexOf('@');
    return at < 0 ? node : `***${node.slice(at)}`;
  }
  if (url.username === '' && url.password === '') return url.href;
  url.username = '';
  url.password = '';
  return url.href.replace('//', '//***@');
}

/** Node URLs of the configuration, masked and joined for a message. */
export function describeNodes(config: ElasticsearchConfig): string {
  return config.nodes.map(maskNodeUrl).join(', ');
}

/**
 * TLS handshake and certificate failures (OpenSSL's "wrong version number" when an https URL
 * names a plain-HTTP node, for example) and HTTP parser errors (a port that serves another
 * protocol). Retrying cannot fix them, unlike a refused connection.
 */
const PROTOCOL_ERROR = /SSL routines|wrong version number|certificate|CERT_|ERR_TLS|EPROTO|HPE_|tlsv1 alert|handshake/i;

/** Classifies an error of the start check. Anything not known to be transient is a configuration error. */
export function classifyStartError(error: unknown): PreflightFailure {
  if (error instanceof errors.ResponseError) {
    const status = error.statusCode ?? 0;
    return status === 429 || status >= 500 ? 'unreachable' : 'misconfigured';
  }
  if (error instanceof errors.TimeoutError || error instanceof errors.NoLivingConnectionsError) return 'unreachable';
  if (error instanceof errors.ConnectionError) return PROTOCOL_ERROR.test(error.message) ? 'misconfigured' : 'unreachable';
  return 'misconfigured';
}

/** Returns the advice for a configuration error, from the kind of failure. */
function adviceFor(error: unknown): string {
  if (error instanceof errors.ResponseError && (error.statusCode === 401 || error.statusCode === 403)) {
    return 'Check the credentials (api_key_file, or username and password_file) and that the user has create_doc on the data stream and read access to index templates';
  }
  if (error instanceof errors.ConnectionError) {
    return 'Check the scheme and port of sinks.elasticsearch.nodes (https only when the node serves TLS) and sinks.elasticsearch.ca_file';
  }
  if (error instanceof errors.ProductNotSupportedError) return 'The URL does not point to Elasticsearch. Check the host and port of sinks.elasticsearch.nodes';
  return 'Check sinks.elasticsearch.nodes and the credentials';
}

/**
 * Checks, before `holter run` consumes, that the cluster responds, runs 8.x, has the index template
 * of the data stream, and that no plain index or alias uses the data stream's name. A refused
 * connection, a timeout, a 429 or a 5xx is retried with backoff for `startup_timeout_ms`, because
 * the cluster may be restarting. Every other failure, and the end of that wait, throws
 * HOLTER_ELASTICSEARCH_CONNECT at once. Node URLs in messages and logs are masked.
 */
export async function checkElasticsearchAtStart(client: Client, config: ElasticsearchConfig, options: PreflightOptions): Promise<void> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const nodes = describeNodes(config);
  const deadline = now() + config.startup_timeout_ms;

  for (let attempt = 1; ; attempt++) {
    try {
      await checkCluster(client, config, nodes);
      if (attempt > 1) options.logger.info({ sink: 'elasticsearch', nodes, attempt }, 'elasticsearch is reachable; starting');
      return;
    } catch (error) {
      if (error instanceof HolterError) throw error;
      const reason = describeRequestError(error);
      if (classifyStartError(error) === 'misconfigured') {
        throw new HolterError('HOLTER_ELASTICSEARCH_CONNECT', `Elasticsearch at ${nodes} cannot be used: ${reason}. ${adviceFor(error)}. holter run did not start consuming.`, {
          path: 'sinks.elasticsearch.nodes',
          cause: error,
        });
      }

      const delayMs = Math.min(backoffMs(attempt, config.initial_backoff_ms, config.max_backoff_ms), Math.max(0, deadline - now()));
      if (delayMs <= 0) {
        throw new HolterError(
          'HOLTER_ELASTICSEARCH_CONNECT',
          `Elasticsearch at ${nodes} was unreachable for ${config.startup_timeout_ms} ms (sinks.elasticsearch.startup_timeout_ms): ${reason}. Start the cluster or fix sinks.elasticsearch.nodes, then start holter run again; nothing was consumed.`,
          { path: 'sinks.elasticsearch.nodes', cause: error, retriable: true },
        );
      }
      if (shouldLogAttempt(attempt)) {
        options.logger.warn({ sink: 'elasticsearch', nodes, attempt, delayMs, reason }, 'elasticsearch is unreachable at start; retrying before consuming');
      }
      await sleep(delayMs);
    }
  }
}

/** Runs one round of the start check. Throws HolterError for what is settled, and the client's error otherwise. */
async function checkCluster(client: Client, config: ElasticsearchConfig, nodes: string): Promise<void> {
  const info = await client.info();
  const version = info.version.number;
  if (!version.startsWith('8.')) {
    throw new HolterError('HOLTER_ELASTICSEARCH_CONNECT', `Elasticsearch at ${nodes} runs ${version}, but Holter's client speaks the 8.x API. Use an 8.x cluster.`, { path: 'sinks.elasticsearch.nodes' });
  }

  const patterns = await readTemplatePatterns(client, config.index_template);
  if (patterns === undefined) {
    throw new HolterError(
      'HOLTER_ELASTICSEARCH_CONNECT',
      `Index template ${config.index_template} not found on Elasticsearch at ${nodes}. Run holter setup elasticsearch before holter run, so alerts go into the data stream ${config.data_stream} with its mappings instead of an index with guessed mappings.`,
      { path: 'sinks.elasticsearch.index_template' },
    );
  }

  if (!patterns.some((pattern) => matchesIndexPattern(pattern, config.data_stream))) {
    throw new HolterError(
      'HOLTER_ELASTICSEARCH_CONNECT',
      `Index template ${config.index_template} on Elasticsearch at ${nodes} matches ${patterns.join(', ')}, not the data stream ${config.data_stream}. Run holter setup elasticsearch with this configuration, or give sinks.elasticsearch.index_template a name of its own.`,
      { path: 'sinks.elasticsearch.index_template' },
    );
  }

  const holder = await findNameHolder(client, config.data_stream);
  if (holder !== undefined && holder !== 'data stream') {
    throw new HolterError('HOLTER_ELASTICSEARCH_CONNECT', nameTakenMessage(config, holder, nodes), { path: 'sinks.elasticsearch.data_stream' });
  }
}

/** Returns the index patterns of a composable index template, or undefined when it does not exist. */
async function readTemplatePatterns(client: Client, name: string): Promise<string[] | undefined> {
  try {
    const found = await client.indices.getIndexTemplate({ name });
    const template = found.index_templates.find((entry) => entry.name === name);
    if (template === undefined) return undefined;
    const patterns = template.index_template.index_patterns;
    return Array.isArray(patterns) ? patterns : [patterns];
  } catch (error) {
    if (error instanceof errors.ResponseError && error.statusCode === 404) return undefined;
    throw error;
  }
}

/** Matches an index name against an index pattern, where `*` stands for any characters. */
export function matchesIndexPattern(pattern: string, name: string): boolean {
  const expression = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${expression}$`).test(name);
}

/** Kind of object that already uses a name on the cluster: a data stream, an index or an alias; undefined when none does. */
export type NameHolder = 'data stream' | 'index' | 'alias';

/** Looks up what uses `name`, with the resolve index API, which the test node of scripts/services has too. */
export async function findNameHolder(client: Client, name: string): Promise<NameHolder | undefined> {
  let resolved;
  try {
    resolved = await client.indices.resolveIndex({ name, expand_wildcards: 'all' });
  } catch (error) {
    if (error instanceof errors.ResponseError && error.statusCode === 404) return undefined;
    throw error;
  }
  if (resolved.data_streams.some((stream) => stream.name === name)) return 'data stream';
  if (resolved.indices.some((index) => index.name === name)) return 'index';
  if (resolved.aliases.some((alias) => alias.name === name)) return 'alias';
  return undefined;
}

/** Returns the message for a data stream name that an index or alias already uses, and what to do. */
export function nameTakenMessage(config: ElasticsearchConfig, holder: Exclude<NameHolder, 'data stream'>, nodes: string): string {
  return (
    `The name ${config.data_stream} is held by an ${holder} on Elasticsearch at ${nodes}, not by a data stream, so the index template ${config.index_template} never applies to it ` +
    `(an index created by writing alerts before holter setup elasticsearch ran has guessed mappings). ` +
    `Reindex or delete that ${holder}, or set another sinks.elasticsearch.data_stream, then run holter setup elasticsearch.`
  );
}

/** Runs `checkElasticsearchAtStart` with a client of its own when `sinks.elasticsearch.nodes` is set. */
export async function checkElasticsearchForRun(config: ElasticsearchConfig, logger: Logger): Promise<void> {
  if (config.nodes.length === 0) return;
  const client = createElasticsearchClient(config);
  try {
    await checkElasticsearchAtStart(client, config, { logger });
  } finally {
    await client.close();
  }
}
