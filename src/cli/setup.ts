import { loadConfig } from '../config/load.js';
import { createElasticsearchClient } from '../sinks/elasticsearch/client.js';
import { setupElasticsearch } from '../sinks/elasticsearch/setup.js';

export interface SetupElasticsearchOptions {
  config?: string;
  /** Replaces `sinks.elasticsearch.nodes` with this one URL. */
  node?: string;
}

/** `holter setup elasticsearch`: installs the ILM policy, index template and data stream; prints one line per step. */
export async function runSetupElasticsearch(options: SetupElasticsearchOptions): Promise<number> {
  const config = loadConfig(options.config);
  const settings = config.sinks.elasticsearch;
  if (options.node !== undefined) settings.nodes = [options.node];
  if (settings.nodes.length === 0) settings.nodes = ['http://127.0.0.1:9200'];

  const client = createElasticsearchClient(settings);
  try {
    const steps = await setupElasticsearch(client, settings);
    for (const step of steps) process.stdout.write(`${step.step.padEnd(15)} ${step.outcome.padEnd(10)} ${step.detail}\n`);
    return 0;
  } finally {
    await client.close();
  }
}
