import { existsSync, readFileSync } from 'node:fs';
import { Client, type ClientOptions } from '@elastic/elasticsearch';
import { readSecret } from '../../config/load.js';
import type { HolterConfig } from '../../config/schema.js';
import { HolterError } from '../../errors.js';

export type ElasticsearchConfig = HolterConfig['sinks']['elasticsearch'];

/**
 * Creates the Elasticsearch client from `sinks.elasticsearch`: API key or basic authentication,
 * and a CA file for TLS. The client does not retry by itself (maxRetries 0): the sink decides
 * what is retried, for how long, and logs it.
 */
export function createElasticsearchClient(config: ElasticsearchConfig): Client {
  if (config.nodes.length === 0) {
    throw new HolterError('HOLTER_CONFIG_INVALID', 'sinks.elasticsearch.nodes is empty. Set at least one URL, e.g. http://127.0.0.1:9200.', { path: 'sinks.elasticsearch.nodes' });
  }
  const options: ClientOptions = {
    nodes: config.nodes,
    maxRetries: 0,
    requestTimeout: config.request_timeout_ms,
    compression: false,
  };

  const auth = readAuth(config);
  if (auth !== undefined) options.auth = auth;
  if (config.ca_file !== undefined) {
    if (!existsSync(config.ca_file)) {
      throw new HolterError('HOLTER_CONFIG_INVALID', `File ${config.ca_file} given in sinks.elasticsearch.ca_file not found. Fix the path or remove the key.`, { path: 'sinks.elasticsearch.ca_file' });
    }
    options.tls = { ca: readFileSync(config.ca_file, 'utf8') };
  }
  return new Client(options);
}

function readAuth(config: ElasticsearchConfig): ClientOptions['auth'] {
  const conflict = (a: string, b: string): HolterError =>
    new HolterError('HOLTER_CONFIG_INVALID', `Both sinks.elasticsearch.${a} and sinks.elasticsearch.${b} are set. Keep one of them.`, { path: `sinks.elasticsearch.${a}` });

  if (config.api_key !== undefined && config.api_key_file !== undefined) throw conflict('api_key', 'api_key_file');
  if (config.password !== undefined && config.password_file !== undefined) throw conflict('password', 'password_file');

  const apiKey = readSecret(config.api_key, config.api_key_file, 'sinks.elasticsearch.api_key');
  const password = readSecret(config.password, config.password_file, 'sinks.elasticsearch.password');
  if (apiKey !== undefined && config.username !== undefined) {
    throw new HolterError('HOLTER_CONFIG_INVALID', 'Both an API key and a user name are set under sinks.elasticsearch. Use one way to authenticate.', { path: 'sinks.elasticsearch' });
  }
  if (apiKey !== undefined) return { apiKey };
  if (config.username === undefined && password === undefined) return undefined;
  if (config.username === undefined || password === undefined) {
    throw new HolterError('HOLTER_CONFIG_INVALID', 'Basic authentication needs both sinks.elasticsearch.username and a password (password_file or password).', { path: 'sinks.elasticsearch.username' });
  }
  return { username: config.username, password };
}
