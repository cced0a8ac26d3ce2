/**
 * value_percentile correlations, starting from the example of the Sigma correlation rules
 * specification 2.1: a process name that makes up 1 % or less of the processes a computer
 * started within 24 hours.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { HolterEvent } from '../../../src/event.js';
import type { Detection } from '../../../src/detect/types.js';
import type { SigmaStage } from '../../../src/detect/sigma/stage.js';
import { compileTexts, windowsEvent } from './helpers.js';

const START_MS = Date.parse('2024-05-01T00:00:00.000Z');
const MINUTE_MS = 60_000;

const PROCESS_CREATION = `title: Process creation
name: process_creation
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        Image|endswith: '.exe'
    condition: selection
`;

function percentileRule(condition: string, timespan = '24h'): string {
  return `title: A computer spawned a rare process
correlation:
    type: value_percentile
    rules:
        - process_creation
    group-by:
        - ComputerName
    timespan: ${timespan}
    condition:
        field: Image
        ${condition}
`;
}

function stageOf(condition: string, timespan?: string): SigmaStage {
  const result = compileTexts([PROCESS_CREATION, percentileRule(condition, timespan)]);
  assert.deepEqual(result.errors.map((error) => error.describe()), []);
  return result.stage;
}

let counter = 0;

function started(image: string, offsetMs: number, computer = 'ws-1'): HolterEvent {
  counter++;
  const event = windowsEvent({ eventId: 1, computer, time: new Date(START_MS + offsetMs).toISOString(), data: { Image: image } });
  event.event.id = `proc-${counter}`;
  return event;
}

/** `count` process starts on one computer, one every 5 minutes: `images` in turn. */
function starts(images: string[], count: number, computer = 'ws-1'): HolterEvent[] {
  return Array.from({ length: count }, (_, index) => started(images[index % images.length] as string, index * 5 * MINUTE_MS, computer));
}

function run(stage: SigmaStage, events: HolterEvent[]): Detection[] {
  const detections: Detection[] = [];
  for (const event of events) detections.push(...stage.process(event, Number.NEGATIVE_INFINITY));
  return [...detections, ...stage.flush(Number.POSITIVE_INFINITY)];
}

const COMMON = ['C:\\Windows\\System32\\svchost.exe', 'C:\\Windows\\explorer.exe'];
const RARE = 'C:\\Users\\nurse\\AppData\\Local\\Temp\\update.exe';

describe('value_percentile example', () => {
  test('one rare process of 200 fires', () => {
    const events = starts(COMMON, 200);
    const rare = started(RARE, 100 * 5 * MINUTE_MS + 1000);
    events.splice(101, 0, rare);

    const detections = run(stageOf('lte: 1'), events);

    assert.equal(detections.length, 1);
    const [detection] = detections as [Detection];
    assert.deepEqual(detection.groupKey, { ComputerName: 'ws-1' });
    assert.equal(detection.explanation.actual, 100 / 201);
    assert.equal(detection.explanation.unit, 'percent');
    assert.equal(detection.explanation.details?.value, RARE);
    assert.equal(detection.explanation.details?.events, 201);
    assert.deepEqual(detection.evidence, [rare.event.id]);
    assert.equal(detection.trigger, rare);
    assert.match(detection.explanation.summary, /update\.exe' is 0\.50% of 201 events for host ws-1 within 24 hours \(threshold: 1 or fewer percent\)/);
  });

  test('exactly 1 percent fires', () => {
    const events = starts(COMMON, 99);
    events.push(started(RARE, 99 * 5 * MINUTE_MS));
    const detections = run(stageOf('lte: 1'), events);
    assert.equal(detections.length, 1);
    assert.equal(detections[0]?.explanation.actual, 1);
  });

  test('2 percent does not fire', () => {
    const events = starts(COMMON, 98);
    events.push(started(RARE, 98 * 5 * MINUTE_MS), started(RARE, 98 * 5 * MINUTE_MS + 1000));
    assert.deepEqual(run(stageOf('lte: 1'), events), []);
  });

  test('other computers do not dilute', () => {
    const events = [...starts(COMMON, 20), ...starts(COMMON, 500, 'ws-2')];
    events.splice(1, 0, started(RARE, 1000));
    // 1 of 21 on ws-1 is 4.8 %: the 500 starts on ws-2 belong to another group.
    assert.deepEqual(run(stageOf('lte: 1'), events), []);
  });

  test('rarest value is reported', () => {
    const second = 'C:\\Tools\\putty.exe';
    const events = starts(COMMON, 200);
    events.splice(1, 0, started(second, 1000), started(second, 2000), started(RARE, 3000));
    const detections = run(stageOf('lte: 1'), events);
    assert.equal(detections.length, 1);
    assert.equal(detections[0]?.explanation.details?.value, RARE);
  });

  test('equal shares report first seen', () => {
    const first = 'C:\\Tools\\first.exe';
    const events = starts(COMMON, 200);
    events.splice(1, 0, started(first, 1000), started(RARE, 2000));
    const detections = run(stageOf('lte: 1'), events);
    assert.equal(detections[0]?.explanation.details?.value, first);
  });
});

describe('value_percentile windows', () => {
  test('evaluated when the window closes', () => {
    const stage = stageOf('gte: 90', '1h');
    const events = Array.from({ length: 10 }, (_, index) => started(COMMON[0] as string, index * MINUTE_MS));
    const during = events.flatMap((event) => stage.process(event, Number.NEGATIVE_INFINITY));
    assert.deepEqual(during, [], 'a share is only final once the window has closed');

    const closing = stage.process(started(COMMON[1] as string, 3 * 60 * MINUTE_MS), Number.NEGATIVE_INFINITY);
    assert.equal(closing.length, 1);
    assert.equal(closing[0]?.explanation.actual, 100);
    assert.equal(closing[0]?.evidence.length, 10);
  });

  test('common value below threshold is silent', () => {
    const events = starts(COMMON, 40, 'ws-3');
    // Each image is 50 % of the starts.
    assert.deepEqual(run(stageOf('gte: 60'), events), []);
    assert.equal(run(stageOf('gte: 50'), starts(COMMON, 40, 'ws-4')).length, 1);
  });

  test('events without the field are not counted', () => {
    const events = starts(COMMON, 99);
    const withoutImage = windowsEvent({ eventId: 1, computer: 'ws-1', time: new Date(START_MS + 1000).toISOString(), data: { CommandLine: 'x.exe' } });
    events.splice(1, 0, started(RARE, 2000), withoutImage);
    const detections = run(stageOf('lte: 1'), events);
    assert.equal(detections.length, 1);
    assert.equal(detections[0]?.explanation.details?.events, 100);
  });
});

describe('value_percentile validation', () => {
  test('needs condition field', () => {
    const text = percentileRule('lte: 1').replace('        field: Image\n', '');
    const result = compileTexts([PROCESS_CREATION, text]);
    assert.equal(result.errors.length, 1);
    assert.equal(result.errors[0]?.code, 'HOLTER_RULE_INVALID');
    assert.match(result.errors[0]?.message ?? '', /requires 'condition.field'/);
  });

  test('share outside 0 to 100', () => {
    for (const condition of ['lte: 101', 'gt: -1']) {
      const result = compileTexts([PROCESS_CREATION, percentileRule(condition)]);
      assert.equal(result.errors.length, 1, condition);
      assert.equal(result.errors[0]?.code, 'HOLTER_RULE_INVALID');
      assert.match(result.errors[0]?.message ?? '', /between 0 and 100/);
    }
  });
});
