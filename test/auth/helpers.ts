// Shared pieces of the access control tests: htpasswd files hashed with bcryptjs, an in-process
// registry started through the composition root from a config tree, and small HTTP helpers.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import bcrypt from 'bcryptjs';
import { validateConfiguration } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/logger.js';
import { startRegistry, type RunningRegistry } from '../../src/registry-server.js';
import { mergeConfig } from '../helpers/registry-config.js';
import { req, type Res } from '../helpers/registry-client.js';

/** Write an htpasswd file; `variant` picks the bcrypt prefix written ($2y$ as htpasswd -B does). */
export function writeHtpasswd(path: string, users: Record<string, string>, variant: '2y' | '2a' | '2b' = '2y'): void {
  const lines = Object.entries(users).map(([user, pw]) => `${user}:${bcrypt.hashSync(pw, 5).replace(/^\$2b\$/, `$${variant}$`)}`);
  writeFileSync(path, `# test users\n${lines.join('\n')}\n`);
}

export const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
export const bearer = (token: string): string => `Bearer ${token}`;

const quiet = () => createLogger({ level: 'error', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

/** Start the registry in process (inmemory storage, delete enabled, a free port) with `extra` merged into the config. */
export async function startAuthRegistry(extra: object): Promise<RunningRegistry> {
  const raw = mergeConfig({ version: '0.1', log: { level: 'error' }, storage: { inmemory: {}, delete: { enabled: true } }, http: { addr: '127.0.0.1:0', secret: 'test' } }, extra);
  const { config } = validateConfiguration(raw);
  return startRegistry(config, { logger: quiet() });
}

export const sha256 = (data: Buffer | string): string => 'sha256:' + createHash('sha256').update(data).digest('hex');

/** Push one config blob, one layer and an OCI manifest tagged `tag`; returns the digests. */
export async function pushImage(base: string, repo: string, tag: string, headers: Record<string, string>): Promise<{ manifest: string; layer: string; config: string; bytes: Buffer }> {
  const blobs: Buffer[] = [Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } })), Buffer.from(`layer of ${repo}:${tag}`)];
  const digests: string[] = [];
  for (const blob of blobs) {
    const digest = sha256(blob);
    const res = await req('POST', `${base}/v2/${repo}/blobs/uploads/?digest=${digest}`, { headers: { ...headers, 'content-type': 'application/octet-stream' }, body: blob });
    if (res.status !== 201) throw new Error(`push blob to ${repo}: ${res.status} ${res.text()}`);
    digests.push(digest);
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digests[0], size: blobs[0]?.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digests[1], size: blobs[1]?.length }],
    }),
  );
  const put = await req('PUT', `${base}/v2/${repo}/manifests/${tag}`, { headers: { ...headers, 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: manifest });
  if (put.status !== 201) throw new Error(`push manifest to ${repo}: ${put.status} ${put.text()}`);
  return { manifest: sha256(manifest), config: digests[0] as string, layer: digests[1] as string, bytes: manifest };
}

export interface TokenResponse {
  token: string;
  access_token: string;
  expires_in: number;
  issued_at: string;
  refresh_token?: string;
  scope?: string;
}

/** GET the token endpoint with optional Basic credentials and scopes. */
export async function fetchToken(base: string, opts: { user?: string; password?: string; scopes?: string[]; service?: string; path?: string; extra?: Record<string, string> } = {}): Promise<Res> {
  const q = new URLSearchParams();
  if (opts.service !== undefined) q.set('service', opts.service);
  for (const s of opts.scopes ?? []) q.append('scope', s);
  for (const [k, v] of Object.entries(opts.extra ?? {})) q.set(k, v);
  const headers: Record<string, string> = {};
  if (opts.user !== undefined) headers.authorization = basic(opts.user, opts.password ?? '');
  return req('GET', `${base}${opts.path ?? '/auth/token'}?${q.toString()}`, { headers });
}

/** The token string, asserting the endpoint said 200. */
export async function tokenFor(base: string, user: string | undefined, password: string | undefined, scopes: string[]): Promise<string> {
  const res = await fetchToken(base, { user, password, scopes, service: 'berth' });
  if (res.status !== 200) throw new Error(`token endpoint: ${res.status} ${res.text()}`);
  return res.json<TokenResponse>().token;
}

/** The payload of a JWT, unverified. */
export function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

export function errorCode(res: Res): string | undefined {
  try {
    return res.json<{ errors?: { code: string }[] }>().errors?.[0]?.code;
  } catch {
    return undefined;
  }
}
