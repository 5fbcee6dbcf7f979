import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_PLATFORM,
  acceptedMediaTypes,
  acceptsMediaType,
  negotiateFallbackChild,
  negotiateManifest,
  parseAcceptEntry,
  selectPlatformChild,
} from '../../src/manifest/negotiate.js';
import { parseManifest } from '../../src/manifest/manifest.js';
import {
  MEDIA_TYPE_DOCKER_MANIFEST as D2,
  MEDIA_TYPE_DOCKER_MANIFEST_LIST as LIST,
  MEDIA_TYPE_OCI_INDEX as IDX,
  MEDIA_TYPE_OCI_MANIFEST as OCI,
} from '../../src/manifest/media-types.js';
import { body, d, dockerManifestList } from './fixtures.js';

// What real clients send.
const DOCKER_PULL = `${D2}, ${LIST}, ${OCI}, ${IDX}`;
const SKOPEO = [OCI, IDX, D2, LIST, 'application/vnd.docker.distribution.manifest.v1+prettyjws', 'application/vnd.docker.distribution.manifest.v1+json'];

describe('Accept parsing (Go mime.ParseMediaType rules)', () => {
  it('splits on commas, trims, lowercases, ignores parameters and q-values', () => {
    assert.deepEqual([...acceptedMediaTypes(`${D2} ,  ${OCI.toUpperCase()};q=0.5`)], [D2, OCI]);
    assert.ok(acceptsMediaType(`${OCI};q=0`, OCI), 'q=0 still counts, as in distribution');
    assert.ok(acceptsMediaType(`${OCI}; charset="utf-8"`, OCI));
    assert.ok(acceptsMediaType(`${OCI};`, OCI), 'one trailing semicolon is tolerated');
  });

  it('several Accept headers (string[]) are all read', () => {
    assert.ok(acceptsMediaType(['text/html', OCI], OCI));
    assert.ok(acceptsMediaType(SKOPEO, LIST));
    assert.ok(!acceptsMediaType([], OCI));
    assert.ok(!acceptsMediaType(undefined, OCI));
    assert.ok(!acceptsMediaType('', OCI));
  });

  it('malformed entries are skipped, the rest still count', () => {
    for (const bad of [`${OCI};;`, `${OCI};q`, `${OCI};q=`, `${OCI};=1`, `${OCI}; a="unterminated`, `${OCI};a=1;a=2`, `${OCI}/x`, '/json', 'application/']) {
      assert.equal(parseAcceptEntry(bad), undefined, bad);
    }
    assert.ok(acceptsMediaType(`${OCI};;, ${D2}`, D2));
    assert.ok(!acceptsMediaType(`${OCI};;`, OCI));
  });

  it('accepts well-formed odd entries', () => {
    assert.equal(parseAcceptEntry(`${OCI};a=1;a=1`), OCI, 'equal duplicates are allowed');
    assert.equal(parseAcceptEntry(`${OCI}; a="x;y\\"z"`), OCI);
    assert.equal(parseAcceptEntry('application'), 'application');
    assert.equal(parseAcceptEntry('*/*'), '*/*');
  });

  it('wildcards do not accept anything', () => {
    assert.ok(!acceptsMediaType('*/*', OCI));
    assert.ok(!acceptsMediaType('application/*', IDX));
  });
});

describe('negotiateManifest', () => {
  const refusal = (status: number, code: string, message: RegExp) => (r: ReturnType<typeof negotiateManifest>) => {
    assert.equal(r.action, 'refuse');
    if (r.action !== 'refuse') return;
    assert.equal(r.status, status);
    assert.equal(r.code, code);
    assert.match(r.message, message);
  };

  it('OCI manifest: only to clients that list it, by tag or by digest', () => {
    for (const byTag of [true, false]) {
      assert.deepEqual(negotiateManifest(DOCKER_PULL, OCI, byTag), { action: 'serve' });
      assert.deepEqual(negotiateManifest(SKOPEO, OCI, byTag), { action: 'serve' });
      for (const accept of [undefined, '*/*', D2, `${D2}, ${LIST}`, IDX]) {
        refusal(404, 'MANIFEST_UNKNOWN', /^OCI manifest found, but accept header does not support OCI manifests$/)(
          negotiateManifest(accept, OCI, byTag),
        );
      }
    }
  });

  it('OCI index: only to clients that list it', () => {
    assert.deepEqual(negotiateManifest(IDX, IDX, true), { action: 'serve' });
    for (const accept of [undefined, OCI, LIST]) {
      refusal(404, 'MANIFEST_UNKNOWN', /^OCI index found, but accept header does not support OCI indexes$/)(
        negotiateManifest(accept, IDX, false),
      );
    }
  });

  it('Docker schema 2: always served', () => {
    for (const accept of [undefined, '*/*', OCI, D2]) {
      assert.deepEqual(negotiateManifest(accept, D2, true), { action: 'serve' });
      assert.deepEqual(negotiateManifest(accept, D2, false), { action: 'serve' });
    }
  });

  it('Docker manifest list: served when listed or fetched by digest, else fall back to linux/amd64', () => {
    assert.deepEqual(negotiateManifest(LIST, LIST, true), { action: 'serve' });
    assert.deepEqual(negotiateManifest(undefined, LIST, false), { action: 'serve' });
    assert.deepEqual(negotiateManifest(D2, LIST, true), { action: 'fallback', platform: DEFAULT_PLATFORM });
    assert.deepEqual(negotiateManifest(undefined, LIST, true), { action: 'fallback', platform: { os: 'linux', architecture: 'amd64' } });
  });

  it('the fallback child: first linux/amd64 entry; schema 2 only if listed', () => {
    const list = parseManifest(body(dockerManifestList), LIST);
    assert.equal(list.kind, 'index');
    if (list.kind !== 'index') return;
    assert.equal(selectPlatformChild(list.manifests)?.digest, d('amd64'));
    assert.equal(selectPlatformChild(list.manifests, { os: 'windows', architecture: 'amd64' })?.digest, d('windows'));
    assert.equal(selectPlatformChild(list.manifests.slice(1, 2)), undefined);
    assert.equal(selectPlatformChild([{ mediaType: D2, digest: d('x'), size: 1 }]), undefined, 'no platform → no match');

    assert.deepEqual(negotiateFallbackChild(D2, D2), { action: 'serve' });
    assert.deepEqual(negotiateFallbackChild(undefined, OCI), { action: 'serve' });
    assert.deepEqual(negotiateFallbackChild(undefined, D2), {
      action: 'refuse',
      status: 400,
      code: 'MANIFEST_INVALID',
      message: 'Schema 2 manifest not supported by client',
    });
  });
});
