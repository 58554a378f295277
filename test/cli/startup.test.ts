import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, newSecrets, REPO_ROOT, spawnService } from '../helpers/process.ts';
import { createTestStore } from '../helpers/stores.ts';

type Run = { code: number; stdout: string; stderr: string };
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function run(env: Record<string, string>, ...args: string[]): Promise<Run> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mlw-start-'));
  dirs.push(dataDir);
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/main.ts', ...args],
      { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATA_DIR: dataDir, LOG_LEVEL: 'silent', ...env }, timeout: 25_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

describe('starting the service', () => {
  it('exits 1 with one line naming the port when the port is taken, instead of running without an API', async () => {
    const blocker = net.createServer().listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const r = await run({ PORT: String(port), HOST: '127.0.0.1' }, 'serve');
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(`:${port}`);
      expect(r.stderr).toContain('PORT');
    } finally {
      blocker.close();
    }
  });

  it('refuses a malformed SECRETS_KEY with exit code 2 and one line naming it', async () => {
    const r = await run({ SECRETS_KEY: 'abc', PORT: String(await freePort()) }, 'serve');
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^mailerlogic-webhooks: SECRETS_KEY: /);
  });

  it('runs a worker that answers /healthz, /readyz and /metrics on PORT but serves no API', async () => {
    const store = await createTestStore('sqlite');
    const secrets = newSecrets();
    const worker = await spawnService({
      args: ['worker'],
      env: { DATA_DIR: store.dataDir, ...secrets, LOG_LEVEL: 'info' },
    });
    try {
      const base = `http://127.0.0.1:${worker.port}`;
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect(await (await fetch(`${base}/readyz`)).json()).toMatchObject({ status: 'ready', store: 'sqlite' });
      expect(await (await fetch(`${base}/metrics`)).text()).toContain('mailerlogic_deliveries_in_flight');
      expect((await fetch(`${base}/api/v1/customer/webhooks`)).status).toBe(404);
    } finally {
      await worker.stop();
      await store.drop();
    }
  });
});
