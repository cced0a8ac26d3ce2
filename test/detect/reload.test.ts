import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import type { HolterConfig } from '../../src/config/schema.js';
import { loadDetectors, type BaselineStage } from '../../src/detect/baseline/index.js';
import { DetectionReloader, RELOAD_REJECTED_RULE_ID } from '../../src/detect/reload.js';
import { loadSigmaRules, type SigmaStage } from '../../src/detect/sigma/index.js';
import type { Detection } from '../../src/detect/types.js';
import { silentLogger } from '../../src/log.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { holterEvent } from './sigma/helpers.js';
import { makeTempDir } from '../helpers/temp.js';

const BURST_RULE = 'holter-failed-login-burst';

/** Copies the shipped rules and detectors to a temporary folder, with a config that points at it. */
function workspace(): { dir: string; config: HolterConfig } {
  const dir = makeTempDir('holter-reload-');
  cpSync(join(REPO_ROOT, 'rules'), join(dir, 'rules'), { recursive: true });
  cpSync(join(REPO_ROOT, 'detectors'), join(dir, 'detectors'), { recursive: true });
  const configFile = join(dir, 'holter.yaml');
  writeFileSync(configFile, `rules:\n  paths: [${join(dir, 'rules')}]\n  mapping: ${join(REPO_ROOT, 'mappings', 'sigma.yml')}\ndetectors:\n  paths: [${join(dir, 'detectors')}]\n`);
  return { dir, config: loadConfig(configFile) };
}

async function runningStages(config: HolterConfig): Promise<{ sigma: SigmaStage; detectors: BaselineStage }> {
  const rules = await loadSigmaRules(config.rules.paths, { mappingFile: config.rules.mapping, timeZone: config.facility.time_zone });
  const detectors = await loadDetectors(config.detectors.paths, { defaultTimeZone: config.facility.time_zone });
  assert.deepEqual(rules.errors, []);
  return { sigma: rules.stage, detectors: detectors.stage };
}

/** Feeds failed logins for u-1042, 20 s apart from `startSecond`, and returns the burst detections. */
function failedLogins(stage: SigmaStage, count: number, startSecond: number): Detection[] {
  const found: Detection[] = [];
  for (let index = 0; index < count; index++) {
    const timeMs = Date.parse('2026-12-01T10:00:00Z') + (startSecond + index * 20) * 1000;
    const event = holterEvent({ time: new Date(timeMs).toISOString(), userId: 'u-1042', category: ['authentication'], outcome: 'failure' });
    found.push(...stage.process(event, timeMs - 60_000).filter((detection) => detection.rule.id === BURST_RULE));
  }
  return found;
}

function reloaderFor(config: HolterConfig, stages: { sigma: SigmaStage; detectors: BaselineStage }, raised: Detection[]): DetectionReloader {
  return new DetectionReloader({
    config,
    stages: () => [[stages.sigma, stages.detectors]],
    raise: async (detection) => {
      raised.push(detection);
    },
    logger: silentLogger,
    now: () => new Date('2026-12-01T10:07:30Z'),
  });
}

describe('detection reload', () => {
  it('keeps windows of unchanged correlations', async () => {
    const { dir, config } = workspace();
    const stages = await runningStages(config);
    const raised: Detection[] = [];
    assert.deepEqual(failedLogins(stages.sigma, 6, 0), []);

    const other = join(dir, 'rules', 'ssh-root-login.yml');
    writeFileSync(other, readFileSync(other, 'utf8').replace(/^level: \w+$/m, 'level: critical'));
    const outcome = await reloaderFor(config, stages, raised).reload('api');

    assert.equal(outcome.outcome, 'reloaded');
    assert.deepEqual(outcome.errors, []);
    assert.equal(failedLogins(stages.sigma, 4, 120).length, 1);
    assert.deepEqual(raised, []);
  });

  it('drops windows of a changed correlation', async () => {
    const { dir, config } = workspace();
    const stages = await runningStages(config);
    assert.deepEqual(failedLogins(stages.sigma, 6, 0), []);

    const burst = join(dir, 'rules', 'failed-login-burst.yml');
    writeFileSync(burst, readFileSync(burst, 'utf8').replace('timespan: 5m', 'timespan: 6m'));
    const outcome = await reloaderFor(config, stages, []).reload('api');

    assert.equal(outcome.outcome, 'reloaded');
    assert.deepEqual(failedLogins(stages.sigma, 4, 120), []);
    // The burst and the temporal correlation built on it (failed-login-burst-then-success).
    assert.equal(stages.sigma.stats().correlation_states_dropped, 2);
  });

  it('keeps the running set on a broken file', async () => {
    const { dir, config } = workspace();
    const stages = await runningStages(config);
    const before = stages.sigma.ruleSet;
    const raised: Detection[] = [];
    assert.deepEqual(failedLogins(stages.sigma, 6, 0), []);

    writeFileSync(join(dir, 'rules', 'broken.yml'), 'title: Broken\nlogsource:\n  product: holter\ndetection:\n  selection:\n    event.outcome: failure\n');
    const reloader = reloaderFor(config, stages, raised);
    const outcome = await reloader.reload('file');

    assert.equal(outcome.outcome, 'rejected');
    assert.ok(outcome.errors.length > 0);
    assert.match(outcome.errors[0]!, /broken\.yml:\d+/);
    assert.equal(stages.sigma.ruleSet, before);
    assert.equal(failedLogins(stages.sigma, 4, 120).length, 1);
    assert.deepEqual(reloader.counts, { succeeded: 0, rejected: 1 });
  });

  it('raises one operator alert per rejection', async () => {
    const { dir, config } = workspace();
    const stages = await runningStages(config);
    const raised: Detection[] = [];
    writeFileSync(join(dir, 'detectors', 'broken.yaml'), 'id: broken\nfunction: no_such_function\n');

    await reloaderFor(config, stages, raised).reload('signal');

    assert.equal(raised.length, 1);
    const alert = raised[0]!;
    assert.equal(alert.rule.id, RELOAD_REJECTED_RULE_ID);
    assert.equal(alert.rule.ruleset, 'holter');
    assert.match(alert.explanation.summary, /broken\.yaml/);
    assert.match(alert.explanation.summary, /stay in force/);
    assert.equal(alert.window.start, '2026-12-01T10:07:00.000Z');
  });

  it('reports the running set when rejected', async () => {
    const { dir, config } = workspace();
    const stages = await runningStages(config);
    const running = stages.detectors.loadedDetectors.length;
    writeFileSync(join(dir, 'detectors', 'mass-image-pull.yaml'), 'id: mass-image-pull\nfunction: high_sum\nfactor: 0.5\n');

    const reloader = reloaderFor(config, stages, []);
    const outcome = await reloader.reload('api');

    assert.equal(outcome.outcome, 'rejected');
    assert.equal(outcome.detectorsLoaded, running, 'the detectors that keep running, not the set that failed');
    assert.equal(outcome.rulesLoaded, stages.sigma.stats().rules_loaded);
    assert.equal(reloader.fileErrors, outcome.errors.length);
    assert.ok(reloader.fileErrors > 0);
  });

  it('raises an alert for files rejected at start', async () => {
    const { dir, config } = workspace();
    writeFileSync(join(dir, 'detectors', 'broken.yaml'), 'id: broken\nfunction: no_such_function\n');
    const detectors = await loadDetectors(config.detectors.paths, { defaultTimeZone: config.facility.time_zone });
    assert.ok(detectors.errors.length > 0);
    const stages = { sigma: (await runningStages(config)).sigma, detectors: detectors.stage };
    const raised: Detection[] = [];
    const reloader = new DetectionReloader({ config, stages: () => [[stages.sigma, stages.detectors]], raise: async (detection) => void raised.push(detection), logger: silentLogger, startErrors: detectors.errors.length });

    await reloader.reportStartErrors(detectors.errors);

    assert.equal(raised.length, 1);
    assert.equal(raised[0]!.rule.id, RELOAD_REJECTED_RULE_ID);
    assert.match(raised[0]!.explanation.summary, /at start: \d+ errors? in .*broken\.yaml/);
    assert.equal(reloader.fileErrors, detectors.errors.length);

    writeFileSync(join(dir, 'detectors', 'broken.yaml'), readFileSync(join(dir, 'detectors', 'mass-image-pull.yaml'), 'utf8').replace('id: mass-image-pull', 'id: mended'));
    assert.equal((await reloader.reload('file')).outcome, 'reloaded');
    assert.equal(reloader.fileErrors, 0);
  });

  it('tells the run that state changed', async () => {
    const { config } = workspace();
    const stages = await runningStages(config);
    let changed = 0;
    const reloader = new DetectionReloader({ config, stages: () => [[stages.sigma, stages.detectors]], raise: async () => undefined, logger: silentLogger, onReloaded: () => void (changed += 1) });

    assert.equal((await reloader.reload('api')).outcome, 'reloaded');
    assert.equal(changed, 1);
  });

  it('replaces detectors keeping unchanged state', async () => {
    const { config } = workspace();
    const stages = await runningStages(config);
    const before = stages.detectors.loadedDetectors;

    const outcome = await reloaderFor(config, stages, []).reload('api');

    assert.equal(outcome.outcome, 'reloaded');
    assert.equal(outcome.detectorsLoaded, before.length);
    assert.deepEqual(stages.detectors.detectorIds, before.map((detector) => detector.rule.id));
  });

  it('reloads on a file change', async () => {
    const { dir, config } = workspace();
    const stages = await runningStages(config);
    const reloader = reloaderFor(config, stages, []);
    const stop = reloader.watchFiles();
    try {
      const other = join(dir, 'rules', 'ssh-root-login.yml');
      writeFileSync(other, readFileSync(other, 'utf8').replace(/^level: \w+$/m, 'level: critical'));
      const deadline = Date.now() + 15_000;
      while (reloader.counts.succeeded === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(reloader.counts.succeeded, 1);
    } finally {
      stop();
    }
  });
});
