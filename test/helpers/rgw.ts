// A real S3 server for a test file: a throw-away Ceph cluster with radosgw, started by
// scripts/ceph-rgw.sh in its own directory on free ports, stopped (or, should this process die
// first, stopped by the script's watchdog) afterwards.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { REPO_ROOT } from './berth-server.js';

const run = promisify(execFile);
const SCRIPT = join(REPO_ROOT, 'scripts', 'ceph-rgw.sh');

export interface Rgw {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  region: string;
  accessKey: string;
  secretKey: string;
  /** The cluster's directory (config, logs). */
  dir: string;
  /** Pids of ceph-mon, ceph-osd and radosgw. */
  pids: number[];
  /** Pid of radosgw (SIGSTOP it to make the S3 endpoint hang). */
  rgwPid: number;
  /** A client for the test's own checks (path-style, checksums only where required). */
  client: S3Client;
  /** Create a bucket with a fresh name (or the given one); resolves with its name. */
  createBucket(name?: string): Promise<string>;
  /** Reclaim the space of deleted objects now (the gateway otherwise does it in the background). */
  collectGarbage(): Promise<void>;
  /** `storage.s3` parameters for a registry on `bucket`. */
  storageConfig(bucket: string, extra?: Record<string, unknown>): Record<string, unknown>;
  stop(): Promise<void>;
}

export interface RgwOptions {
  /** OSD capacity in MiB (memstore keeps it in RAM). Default 4096. */
  sizeMB?: number;
}

export async function startRgw(opts: RgwOptions = {}): Promise<Rgw> {
  // Short: Ceph's admin sockets live below it and socket paths are limited to 107 bytes.
  const dir = mkdtempSync('/tmp/rgw-');
  const env = { ...process.env, OWNER_PID: String(process.pid), OSD_SIZE_MB: String(opts.sizeMB ?? 4096) };
  try {
    await run(SCRIPT, ['start', dir], { env, timeout: 120_000 });
  } catch (err) {
    await run(SCRIPT, ['stop', dir]).catch(() => undefined);
    const e = err as { stderr?: string; message: string };
    throw new Error(`could not start Ceph RGW: ${e.stderr || e.message}`, { cause: err });
  }
  const info = JSON.parse(readFileSync(join(dir, 's3.json'), 'utf8')) as { endpoint: string; region: string; accessKey: string; secretKey: string; pids: number[]; rgwPid: number };
  const client = new S3Client({
    endpoint: info.endpoint,
    region: info.region,
    forcePathStyle: true,
    credentials: { accessKeyId: info.accessKey, secretAccessKey: info.secretKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  let stopped = false;
  return {
    ...info,
    dir,
    client,
    async createBucket(name = `b-${randomBytes(6).toString('hex')}`) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
      return name;
    },
    async collectGarbage() {
      await run('radosgw-admin', ['gc', 'process', '--include-all'], { env: { ...process.env, CEPH_CONF: join(dir, 'ceph.conf') }, timeout: 300_000 });
    },
    storageConfig(bucket, extra = {}) {
      return {
        accesskey: info.accessKey,
        secretkey: info.secretKey,
        region: info.region,
        regionendpoint: info.endpoint,
        forcepathstyle: true,
        bucket,
        ...extra,
      };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      client.destroy();
      await run(SCRIPT, ['stop', dir], { timeout: 60_000 });
    },
  };
}
