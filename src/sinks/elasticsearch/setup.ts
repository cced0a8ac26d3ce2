import { errors, type Client } from '@elastic/elasticsearch';
import { HolterError } from '../../errors.js';
import type { ElasticsearchConfig } from './client.js';
import { describeNodes, findNameHolder, nameTakenMessage } from './preflight.js';
import { describeRequestError } from './retry.js';
import { ALERT_MAPPINGS, ilmPolicyBody, indexTemplateBody } from './template.js';

export type SetupOutcome = 'reachable' | 'installed' | 'created' | 'exists' | 'updated' | 'skipped';

/** One step of the setup and what it did, for the command's output. */
export interface SetupStep {
  step: 'cluster' | 'ilm policy' | 'index template' | 'data stream' | 'mappings';
  outcome: SetupOutcome;
  detail: string;
}

/**
 * Installs what the alert data stream needs, idempotently: the ILM policy (when the cluster has
 * ILM), the index template, the data stream, and the template's mappings on an existing data
 * stream so new fields apply without waiting for a rollover. Running it again changes nothing
 * that is already in place.
 */
export async function setupElasticsearch(client: Client, config: ElasticsearchConfig): Promise<SetupStep[]> {
  const steps: SetupStep[] = [];
  steps.push(await checkCluster(client));
  await checkNameFree(client, config);

  const ilm = await installIlmPolicy(client, config);
  steps.push(ilm);
  const policy = ilm.outcome === 'installed' ? config.ilm_policy : undefined;

  await request('index template', () => client.indices.putIndexTemplate({ name: config.index_template, ...indexTemplateBody(config.data_stream, policy) }));
  steps.push({ step: 'index template', outcome: 'installed', detail: `${config.index_template} for ${config.data_stream}` });

  const dataStream = await createDataStream(client, config.data_stream);
  steps.push(dataStream);
  if (dataStream.outcome === 'exists' || dataStream.outcome === 'created') steps.push(await updateMappings(client, config.data_stream));
  return steps;
}

async function checkCluster(client: Client): Promise<SetupStep> {
  const info = await request('cluster', () => client.info());
  const version = info.version.number;
  if (!version.startsWith('8.')) {
    throw new HolterError('HOLTER_ELASTICSEARCH_SETUP', `Elasticsearch ${version} is not supported: Holter's client speaks the 8.x API. Use an 8.x cluster.`);
  }
  return { step: 'cluster', outcome: 'reachable', detail: `Elasticsearch ${version}, cluster ${info.cluster_name}` };
}

/**
 * Rejects a data stream name that an index or alias already holds, as after `holter run` wrote
 * alerts before any setup, and a data stream that another index template created. The template
 * would never apply to either, so installing it and exiting 0 would mislead.
 */
async function checkNameFree(client: Client, config: ElasticsearchConfig): Promise<void> {
  const holder = await request('data stream', () => findNameHolder(client, config.data_stream));
  if (holder === 'index' || holder === 'alias') {
    throw new HolterError('HOLTER_ELASTICSEARCH_SETUP', nameTakenMessage(config, holder, describeNodes(config)), { path: 'sinks.elasticsearch.data_stream' });
  }
  if (holder !== 'data stream') return;

  let template: string | undefined;
  try {
    const found = await client.indices.getDataStream({ name: config.data_stream });
    template = found.data_streams.find((stream) => stream.name === config.data_stream)?.template;
  } catch (error) {
    // Without the data stream API the creating template cannot be read, and the check is skipped.
    if (isMissingHandler(error)) return;
    throw setupError('data stream', error);
  }
  if (template !== undefined && template !== config.index_template) {
    throw new HolterError(
      'HOLTER_ELASTICSEARCH_SETUP',
      `Data stream ${config.data_stream} was created by index template ${template}, not ${config.index_template}, so its backing indices keep that template's mappings until a rollover. ` +
        `Set sinks.elasticsearch.index_template to ${template} if that template is Holter's, or delete the data stream (its alerts with it) and run holter setup elasticsearch again.`,
      { path: 'sinks.elasticsearch.index_template' },
    );
  }
}

async function installIlmPolicy(client: Client, config: ElasticsearchConfig): Promise<SetupStep> {
  try {
    await client.ilm.putLifecycle({ name: config.ilm_policy, policy: ilmPolicyBody(config.ilm_rollover_max_age, config.ilm_delete_after) as never });
    const retention = config.ilm_delete_after === undefined ? 'kept' : `deleted ${config.ilm_delete_after} after rollover`;
    return { step: 'ilm policy', outcome: 'installed', detail: `${config.ilm_policy}: rollover after ${config.ilm_rollover_max_age}, alerts ${retention}` };
  } catch (error) {
    if (isMissingHandler(error)) return { step: 'ilm policy', outcome: 'skipped', detail: 'ILM not available, skipped' };
    throw setupError('ilm policy', error);
  }
}

async function createDataStream(client: Client, name: string): Promise<SetupStep> {
  try {
    await client.indices.createDataStream({ name });
    return { step: 'data stream', outcome: 'created', detail: name };
  } catch (error) {
    if (errorType(error) === 'resource_already_exists_exception') return { step: 'data stream', outcome: 'exists', detail: name };
    if (!isMissingHandler(error)) throw setupError('data stream', error);
  }

  // Without the data stream API (a node without the data-streams module) the template still
  // creates the data stream on the first alert written.
  const existing = await request('data stream', () => client.indices.resolveIndex({ name, expand_wildcards: 'all' }), [404]);
  if (existing !== undefined && existing.data_streams.some((stream) => stream.name === name)) {
    return { step: 'data stream', outcome: 'exists', detail: name };
  }
  return { step: 'data stream', outcome: 'skipped', detail: `data stream API not available; ${name} is created by the template on the first alert written` };
}

async function updateMappings(client: Client, name: string): Promise<SetupStep> {
  await request('mappings', () => client.indices.putMapping({ index: name, ...ALERT_MAPPINGS } as never));
  return { step: 'mappings', outcome: 'updated', detail: `mappings of ${name} match the template` };
}

/** Runs one request; statuses in `absent` resolve to undefined, other failures become a setup error. */
async function request<T>(step: SetupStep['step'], call: () => Promise<T>, absent: number[] = []): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof errors.ResponseError && absent.includes(error.statusCode ?? 0)) return undefined as T;
    throw setupError(step, error);
  }
}

function setupError(step: string, error: unknown): HolterError {
  return new HolterError(
    'HOLTER_ELASTICSEARCH_SETUP',
    `Setup step "${step}" failed: ${describeRequestError(error)}. Check sinks.elasticsearch.nodes, the credentials and the privileges (manage_index_templates, manage_ilm, manage on the data stream).`,
    { cause: error, retriable: !(error instanceof errors.ResponseError) },
  );
}

/**
 * True when the node has no handler for the request: 400 "no handler found" for an API whose
 * plugin is missing (ILM), or 405 when only another method is handled (the data stream API
 * without the data-streams module).
 */
function isMissingHandler(error: unknown): boolean {
  if (!(error instanceof errors.ResponseError)) return false;
  if (error.statusCode === 405) return true;
  const body = error.meta.body as { error?: unknown } | string | undefined;
  const text = typeof body === 'string' ? body : JSON.stringify(body?.error ?? '');
  return error.statusCode === 400 && text.includes('no handler found');
}

function errorType(error: unknown): string | undefined {
  if (!(error instanceof errors.ResponseError)) return undefined;
  const body = error.meta.body as { error?: { type?: string } } | undefined;
  return typeof body === 'object' ? body?.error?.type : undefined;
}
