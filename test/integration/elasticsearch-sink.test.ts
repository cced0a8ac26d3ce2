import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { Alert } from '../../src/alerts/types.js';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { createElasticsearchClient } from '../../src/sinks/elasticsearch/client.js';
import { setupElasticsearch } from '../../src/sinks/elasticsearch/setup.js';
import { ElasticsearchSink } from '../../src/sinks/elasticsearch/sink.js';
import { INTEGRATION_SKIP, elasticsearch, expectedAlerts, requireServices, sampleRecords, simulatedRecords, uniqueName, writeConfig } from './helpers.js';

describe('elasticsearch sink and setup', { skip: INTEGRATION_SKIP }, () => {
  before(requireServices);

  function sinkSettings(): { configFile: string; dataStream: string } {
    const dataStream = `logs-holter.alerts-${uniqueName('itsink').replaceAll('-', '')}`;
    const configFile = writeConfig({ topic: 'unused', groupId: 'unused', dataStream, deadLetterTopic: 'unused' });
    return { configFile, dataStream };
  }

  /** Leaf paths of a document; arrays of scalars count as their parent path. */
  function leafPaths(value: unknown, prefix = ''): string[] {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return [prefix];
    return Object.entries(value as Record<string, unknown>).flatMap(([key, child]) => leafPaths(child, prefix === '' ? key : `${prefix}.${key}`));
  }

  /** Mapped field paths; a `flattened` field covers everything below it. */
  function mappedPaths(properties: Record<string, { type?: string; properties?: Record<string, unknown> }>, prefix = ''): Map<string, string> {
    const paths = new Map<string, string>();
    for (const [key, field] of Object.entries(properties)) {
      const name = prefix === '' ? key : `${prefix}.${key}`;
      if (field.properties !== undefined) for (const [child, type] of mappedPaths(field.properties as never, name)) paths.set(child, type);
      else paths.set(name, field.type ?? 'object');
    }
    return paths;
  }

  test('setup runs twice without change', async () => {
    const { configFile, dataStream } = sinkSettings();
    const settings = loadConfig(configFile).sinks.elasticsearch;
    const client = createElasticsearchClient(settings);
    try {
      const first = await setupElasticsearch(client, settings);
      const second = await setupElasticsearch(client, settings);
      assert.deepEqual(second, first);
      const ilm = first.find((step) => step.step === 'ilm policy');
      assert.deepEqual(ilm, { step: 'ilm policy', outcome: 'skipped', detail: 'ILM not available, skipped' });
      const template = await elasticsearch.indices.getIndexTemplate({ name: settings.index_template });
      assert.deepEqual(template.index_templates[0]?.index_template.index_patterns, [dataStream]);
    } finally {
      await client.close();
    }
  });

  test('sink reports replayed alert as duplicate', async () => {
    const { configFile, dataStream } = sinkSettings();
    const settings = loadConfig(configFile).sinks.elasticsearch;
    const client = createElasticsearchClient(settings);
    await setupElasticsearch(client, settings);
    const { alerts } = await expectedAlerts(configFile, [...(await sampleRecords()), ...simulatedRecords(50)]);
    const alert = alerts[0] as Alert;

    const sink = new ElasticsearchSink({ client, dataStream, maxBatchSize: 10, maxConcurrentRequests: 2, initialBackoffMs: 10, maxBackoffMs: 100, logger: silentLogger });
    assert.equal(await sink.write(alert), 'delivered');
    assert.equal(await sink.write(alert), 'duplicate');
    await sink.close();

    await elasticsearch.indices.refresh({ index: dataStream });
    const count = await elasticsearch.count({ index: dataStream });
    assert.equal(count.count, 1);
  });

  test('template maps every alert field', async () => {
    const { configFile, dataStream } = sinkSettings();
    const settings = loadConfig(configFile).sinks.elasticsearch;
    const client = createElasticsearchClient(settings);
    await setupElasticsearch(client, settings);
    const { alerts } = await expectedAlerts(configFile, [...(await sampleRecords()), ...simulatedRecords(50)]);
    assert.ok(alerts.length >= 2);

    const sink = new ElasticsearchSink({ client, dataStream, maxBatchSize: 10, maxConcurrentRequests: 2, initialBackoffMs: 10, maxBackoffMs: 100, logger: silentLogger });
    const outcomes = await Promise.all(alerts.map((alert) => sink.write(alert)));
    assert.ok(outcomes.every((outcome) => outcome === 'delivered'));
    await sink.close();

    const response = await elasticsearch.indices.getMapping({ index: dataStream });
    const mapping = Object.values(response)[0]?.mappings.properties as never;
    const mapped = mappedPaths(mapping);
    const flattened = [...mapped].filter(([, type]) => type === 'flattened').map(([name]) => `${name}.`);
    for (const alert of alerts) {
      for (const leaf of leafPaths(alert)) {
        const covered = mapped.has(leaf) || flattened.some((root) => leaf.startsWith(root));
        assert.ok(covered, `alert field ${leaf} has no mapping`);
      }
    }
  });
});
