import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../helpers/paths.js';
import { makeTempDir } from '../helpers/temp.js';

const HOLTER = path.join(REPO_ROOT, 'bin', 'holter.js');

/** Returns a loopback port that nothing listens on: bound once to pick it, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  assert.ok(address !== null);
  assert.equal(typeof address, 'object');
  return (address as { port: number }).port;
}

test('run serves probes while connecting', async () => {
  const cwd = makeTempDir('holter-run-');
  const port = await closedPort();
  writeFileSync(path.join(cwd, 'holter.yml'), `identity:\n  token_key: run-api-test-token-key-0123456789\nkafka:\n  brokers: ['127.0.0.1:${port}']\n  topics:\n    - name: audit\napi:\n  listen: 127.0.0.1:0\n`);

  const child = spawn(process.execPath, [HOLTER, 'run', '--config', 'holter.yml'], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      const match = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(stderr);
      if (match !== null) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`holter run exited with ${code} before its API listened:\n${stderr}`)));
  });

  try {
    const health = await fetch(`${url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });

    const ready = await fetch(`${url}/readyz`);
    assert.equal(ready.status, 503);

    const metrics = await fetch(`${url}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /holter_records_read_total 0/);
    assert.doesNotMatch(stderr, /HOLTER_KAFKA_CONNECT/, 'the probes were read while kafkajs still retried the brokers');
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
  }
});

test('run needs a fixed patient token key', async () => {
  const cwd = makeTempDir('holter-run-');
  writeFileSync(path.join(cwd, 'holter.yml'), `kafka:\n  brokers: ['127.0.0.1:${await closedPort()}']\n  topics:\n    - name: audit\n`);

  const child = spawn(process.execPath, [HOLTER, 'run', '--config', 'holter.yml'], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const [code] = (await once(child, 'exit')) as [number | null];

  assert.equal(code, 2, stderr);
  assert.match(stderr, /holter run keeps detection state across restarts, so it needs a fixed patient token key, and none is configured\. Set identity\.token_key_file/);
});
