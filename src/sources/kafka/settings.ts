import { existsSync, readFileSync } from 'node:fs';
import { readSecret } from '../../config/load.js';
import type { KafkaConfig } from '../../config/schema.js';
import { HolterError } from '../../errors.js';

/** How to reach the brokers, with every file already read. Independent of the client library. */
export interface KafkaConnectionSettings {
  clientId: string;
  brokers: string[];
  connectionTimeoutMs: number;
  tls?: { ca?: string; cert?: string; key?: string; rejectUnauthorized: boolean };
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
}

/** Reads the TLS files and the SASL password named in the `kafka` section. */
export function kafkaConnectionSettings(config: KafkaConfig): KafkaConnectionSettings {
  const settings: KafkaConnectionSettings = {
    clientId: config.client_id,
    brokers: config.brokers,
    connectionTimeoutMs: config.connection_timeout_ms,
  };

  if (config.tls.enabled) {
    settings.tls = {
      ca: readPem(config.tls.ca_file, 'kafka.tls.ca_file'),
      cert: readPem(config.tls.cert_file, 'kafka.tls.cert_file'),
      key: readPem(config.tls.key_file, 'kafka.tls.key_file'),
      rejectUnauthorized: config.tls.reject_unauthorized,
    };
    if ((settings.tls.cert === undefined) !== (settings.tls.key === undefined)) {
      throw new HolterError('HOLTER_CONFIG_INVALID', 'Only one of kafka.tls.cert_file and kafka.tls.key_file is set. Set both for mutual TLS, or neither.', {
        path: 'kafka.tls',
      });
    }
  }

  const sasl = config.sasl;
  if (sasl !== undefined) {
    if (sasl.password !== undefined && sasl.password_file !== undefined) {
      throw new HolterError('HOLTER_CONFIG_INVALID', 'Both kafka.sasl.password and kafka.sasl.password_file are set. Keep one of them.', { path: 'kafka.sasl' });
    }
    const password = readSecret(sasl.password, sasl.password_file, 'kafka.sasl.password');
    if (password === undefined) {
      throw new HolterError('HOLTER_CONFIG_INVALID', 'kafka.sasl is set without a password. Set kafka.sasl.password_file (or kafka.sasl.password).', { path: 'kafka.sasl' });
    }
    settings.sasl = { mechanism: sasl.mechanism, username: sasl.username, password };
  }
  return settings;
}

function readPem(file: string | undefined, key: string): string | undefined {
  if (file === undefined) return undefined;
  if (!existsSync(file)) {
    throw new HolterError('HOLTER_CONFIG_INVALID', `File ${file} given in ${key} not found. Fix the path or remove the key.`, { path: key });
  }
  return readFileSync(file, 'utf8');
}

/** Returns the error of a failed first contact with the brokers; `step` names it, such as `Connecting to the brokers h:9092`. */
export function kafkaConnectError(step: string, error: unknown): HolterError {
  return new HolterError('HOLTER_KAFKA_CONNECT', `${step} failed: ${(error as Error).message}. Check kafka.brokers, TLS and SASL settings, and that the brokers are up.`, {
    cause: error,
    retriable: true,
  });
}
