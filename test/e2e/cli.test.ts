/**
 * The berth command as a user runs it: --version, check, serve with several instances sharing
 * storage and http.secret, and a graceful stop that lets an in-flight upload finish.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createHash, randomBytes } from 'node:crypto';
import { REPO_ROOT, startBerth } from '../helpers/berth-server.js';
import { req, resolveLocation } from '../helpers/registry-client.js';

const run = promisify(execFile);
const berthArgs = ['--import', 'tsx', 'src/cli/main.ts'];
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const SLOW = { timeout: 120_000 };

describe('berth command line', () => {
  it('prints its version', SLOW, async () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const { stdout } = await run(process.execPath, [...berthArgs, '--version'], { cwd: REPO_ROOT });
    assert.equal(stdout.trim(), `berth ${pkg.version}`);
  });

  it('checks a configuration: warnings for unknown sections, errors that name the key', SLOW, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-check-'));
    try {
      const good = join(dir, 'good.yml');
      writeFileSync(good, 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /tmp/x\nreporting:\n  bugsnag:\n    apikey: k\nfrobnicate: true\n');
      const ok = await run(process.execPath, [...berthArgs, 'check', good], { cwd: REPO_ROOT });
      assert.match(ok.stdout, /warning: .*frobnicate/);
      assert.match(ok.stdout, /is valid/);
      const bad = join(dir, 'bad.yml');
      writeFileSync(bad, 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: [1, 2]\nhttp:\n  draintimeout: soon\n');
      const failed = await run(process.execPath, [...berthArgs, 'check', bad], { cwd: REPO_ROOT }).then(
        () => assert.fail('check accepted a bad configuration'),
        (err: { code: number; stderr: string }) => err,
      );
      assert.equal(failed.code, 1);
      assert.match(failed.stderr, /storage\.filesystem\.rootdirectory/);
      assert.match(failed.stderr, /http\.draintimeout/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('continues an upload on another instance that shares storage and http.secret', SLOW, async () => {
    const root = mkdtempSync(join(tmpdir(), 'berth-shared-'));
    const extraConfig = { http: { secret: 'shared-secret-for-tests' } };
    const a = await startBerth({ rootdirectory: root, extraConfig });
    const b = await startBerth({ rootdirectory: root, extraConfig });
    try {
      const parts = [randomBytes(700_001), randomBytes(300_003)];
      const start = await req('POST', `${a.url}/v2/multi/blob/blobs/uploads/`);
      assert.equal(start.status, 202);
      const onA = resolveLocation(a.url, start.headers.get('location'));
      const p1 = await req('PATCH', onA.href, { body: parts[0] });
      assert.equal(p1.status, 202);
      // The Location from instance A, sent to instance B.
      const onB = new URL(resolveLocation(a.url, p1.headers.get('location')).pathname + resolveLocation(a.url, p1.headers.get('location')).search, b.url);
      const p2 = await req('PATCH', onB.href, { body: parts[1] });
      assert.equal(p2.status, 202, p2.text());
      assert.equal(p2.headers.get('range'), `0-${parts[0]!.length + parts[1]!.length - 1}`);
      const finish = resolveLocation(b.url, p2.headers.get('location'));
      const digest = sha256(Buffer.concat(parts));
      const onAagain = new URL(finish.pathname + finish.search, a.url);
      onAagain.searchParams.set('digest', digest);
      const done = await req('PUT', onAagain.href);
      assert.equal(done.status, 201, done.text());
      for (const url of [a.url, b.url]) {
        const got = await req('GET', `${url}/v2/multi/blob/blobs/${digest}`);
        assert.equal(sha256(got.body), digest);
      }
    } finally {
      await a.stop();
      await b.stop();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('lets an in-flight upload finish on SIGTERM, then exits', SLOW, async () => {
    const berth = await startBerth({ extraConfig: { http: { draintimeout: '20s' }, log: { level: 'info' } } });
    try {
      const start = await req('POST', `${berth.url}/v2/drain/blobs/uploads/`);
      const loc = resolveLocation(berth.url, start.headers.get('location'));
      const first = randomBytes(100_000);
      const second = randomBytes(100_000);
      const status = await new Promise<number>((resolve, reject) => {
        const r = request(loc, { method: 'PATCH', headers: { 'Content-Length': String(first.length + second.length) } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        r.on('error', reject);
        r.write(first, () => {
          process.kill(berth.pid, 'SIGTERM');
          setTimeout(() => r.end(second), 500);
        });
      });
      assert.equal(status, 202, 'the upload in flight at SIGTERM completes');
      // The process exits on its own once drained; new connections are refused.
      let exited = false;
      for (let i = 0; i < 100 && !exited; i++) {
        try {
          process.kill(berth.pid, 0);
          await new Promise((r) => setTimeout(r, 100));
        } catch {
          exited = true;
        }
      }
      assert.ok(exited, 'berth exited after draining');
      assert.match(readFileSync(berth.logFile, 'utf8'), /shutting down/);
    } finally {
      await berth.stop();
    }
  });
});
