// Real clients against a berth process: `skopeo login` and `podman login`, then push and pull,
// through auth.htpasswd and through the built-in token server. A pull-only user cannot push, and
// nothing works without logging in.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBerth } from '../helpers/berth-server.js';
import { buildOciImage, type BuiltImage } from '../helpers/fixtures.js';
import type { RegistryServer } from '../helpers/registry-config.js';
import { copy, dockerRef, inspectRaw, skopeo } from '../helpers/skopeo.js';
import { writeHtpasswd } from './helpers.js';

const ACCESS = {
  rules: [
    { users: ['alice'], repositories: ['team/**'], actions: ['*'] },
    { users: ['bob'], repositories: ['team/**'], actions: ['pull'] },
  ],
};

/** podman as root, isolated in the test's directory (its own storage.conf, vfs driver). */
function podman(work: string, args: string[]): Promise<string> {
  const full = ['--root', join(work, 'storage'), '--runroot', join(work, 'run'), '--storage-driver', 'vfs', '--events-backend', 'none', ...args];
  return new Promise((resolve, reject) => {
    execFile('podman', full, { timeout: 300_000, env: { ...process.env, CONTAINERS_STORAGE_CONF: join(work, 'storage.conf') } }, (err, stdout, stderr) => {
      if (err) reject(new Error(`podman ${args.join(' ')} failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

function scenario(mode: string, extraConfig: (dir: string, htpasswd: string) => object): void {
  describe(`real clients through ${mode}`, () => {
    let work: string;
    let berth: RegistryServer;
    let image: BuiltImage;
    let authfile: string;
    const env = () => ({ REGISTRY_AUTH_FILE: authfile });

    before(async () => {
      work = mkdtempSync(join(tmpdir(), 'berth-auth-clients-'));
      const htpasswd = join(work, 'htpasswd');
      writeHtpasswd(htpasswd, { alice: 'alice-pw', bob: 'bob-pw' });
      authfile = join(work, 'auth.json');
      writeFileSync(authfile, '{}');
      writeFileSync(join(work, 'storage.conf'), `[storage]\ndriver = "vfs"\nrunroot = "${join(work, 'run')}"\ngraphroot = "${join(work, 'storage')}"\n`);
      image = await buildOciImage(join(work, 'img'), { tag: 'v1', layers: [{ size: 300_000 }, { size: 100_000 }] });
      berth = await startBerth({ extraConfig: extraConfig(work, htpasswd) });
    });
    after(async () => {
      await berth?.stop();
      rmSync(work, { recursive: true, force: true });
    });

    it('nothing is pushed without logging in', async () => {
      await assert.rejects(copy(image.ref, dockerRef(berth.url, 'team/app', 'v1'), { env: env() }), /unauthorized|authentication required|401/i);
    });

    it('skopeo login refuses a wrong password and accepts the right one', async () => {
      await assert.rejects(skopeo(['login', '--tls-verify=false', '--authfile', authfile, '-u', 'alice', '-p', 'wrong', berth.host]), /unauthorized|invalid|401/i);
      const out = await skopeo(['login', '--tls-verify=false', '--authfile', authfile, '-u', 'alice', '-p', 'alice-pw', berth.host]);
      assert.match(out, /Login Succeeded/);
      assert.ok(JSON.parse(readFileSync(authfile, 'utf8')).auths[berth.host], 'credentials stored for the registry');
    });

    it('skopeo pushes and pulls after login, byte for byte', async () => {
      await copy(image.ref, dockerRef(berth.url, 'team/app', 'v1'), { env: env() });
      assert.ok((await inspectRaw(dockerRef(berth.url, 'team/app', 'v1'), { env: env() })).equals(image.manifest.bytes));
      await copy(dockerRef(berth.url, 'team/app', 'v1'), `oci:${join(work, 'pulled')}:v1`, { env: env() });
      assert.equal(readFileSync(join(work, 'pulled', 'blobs', 'sha256', image.manifest.digest.slice(7))).length, image.manifest.size);
    });

    it('podman logs in as a pull-only user: pulls, but cannot push', async () => {
      const bobAuth = join(work, 'bob.json');
      writeFileSync(bobAuth, '{}');
      await podman(work, ['login', '--tls-verify=false', '--authfile', bobAuth, '-u', 'bob', '-p', 'bob-pw', berth.host]);
      await podman(work, ['pull', '--tls-verify=false', '--authfile', bobAuth, `${berth.host}/team/app:v1`]);
      await assert.rejects(
        podman(work, ['push', '--tls-verify=false', '--authfile', bobAuth, `${berth.host}/team/app:v1`, `${berth.host}/team/bob:v1`]),
        /denied|unauthorized|authentication required|403|401/i,
      );
    });

    it('podman logs in, pushes an image and pulls it back', async () => {
      await podman(work, ['login', '--tls-verify=false', '--authfile', authfile, '-u', 'alice', '-p', 'alice-pw', berth.host]);
      await podman(work, ['pull', '--tls-verify=false', '--authfile', authfile, `${berth.host}/team/app:v1`]);
      await podman(work, ['push', '--tls-verify=false', '--authfile', authfile, `${berth.host}/team/app:v1`, `${berth.host}/team/podman:v1`]);
      await podman(work, ['rmi', '-f', `${berth.host}/team/app:v1`]);
      await podman(work, ['pull', '--tls-verify=false', '--authfile', authfile, `${berth.host}/team/podman:v1`]);
      const images = await podman(work, ['images', '--format', '{{.Repository}}:{{.Tag}}']);
      assert.ok(images.includes(`${berth.host}/team/podman:v1`), images);
      const tags = JSON.parse(await skopeo(['list-tags', '--tls-verify=false', '--authfile', authfile, `docker://${berth.host}/team/podman`])) as { Tags: string[] };
      assert.deepEqual(tags.Tags, ['v1']);
    });
  });
}

scenario('auth.htpasswd', (_dir, htpasswd) => ({ auth: { htpasswd: { realm: 'berth', path: htpasswd } }, access: ACCESS }));
scenario('the built-in token server', (dir, htpasswd) => ({ tokenserver: { enabled: true, htpasswd, keydirectory: join(dir, 'keys') }, access: ACCESS }));
