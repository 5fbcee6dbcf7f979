import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_MANIFEST_BYTES,
  contentTypeMediaType,
  effectiveArtifactType,
  parseManifest,
  storedManifestMediaType,
} from '../../src/manifest/manifest.js';
import { ManifestError, type ManifestErrorKind } from '../../src/manifest/errors.js';
import * as mt from '../../src/manifest/media-types.js';
import {
  body,
  buildxIndex,
  cosignSignature,
  d,
  dockerManifestList,
  dockerSchema2,
  helmChart,
  ociImage,
  ociImageNoMediaType,
  orasArtifact,
  schema1Signed,
  windowsForeign,
} from './fixtures.js';

/** Assert parseManifest throws a ManifestError of `kind` whose message matches `message`. */
function rejects(value: unknown, contentType: string | undefined, kind: ManifestErrorKind, message?: RegExp) {
  const buf = Buffer.isBuffer(value) ? value : typeof value === 'string' ? Buffer.from(value) : body(value);
  assert.throws(
    () => parseManifest(buf, contentType),
    (err: unknown) => {
      assert.ok(err instanceof ManifestError, `expected ManifestError, got ${String(err)}`);
      assert.equal(err.kind, kind, err.message);
      if (message) assert.match(err.message, message);
      return true;
    },
  );
}

const clone = <T>(v: T): T => structuredClone(v);

describe('parseManifest: accepted real-world manifests', () => {
  it('Docker schema 2 (skopeo --format v2s2, docker push)', () => {
    const m = parseManifest(body(dockerSchema2), mt.MEDIA_TYPE_DOCKER_MANIFEST);
    assert.equal(m.kind, 'image');
    assert.equal(m.mediaType, mt.MEDIA_TYPE_DOCKER_MANIFEST);
    assert.equal(m.schemaVersion, 2);
    if (m.kind !== 'image') return;
    assert.equal(m.config.digest, d('config'));
    assert.equal(m.layers.length, 2);
    assert.deepEqual(
      m.references().map((r) => r.digest),
      [d('config'), d('layer-1'), d('layer-2')],
    );
    assert.deepEqual(m.urlChecks(), []);
    assert.equal(m.subject, undefined);
  });

  it('OCI image manifest, with Content-Type parameters and any case', () => {
    const m = parseManifest(body(ociImage), 'Application/VND.OCI.image.manifest.v1+json; charset=utf-8');
    assert.equal(m.mediaType, mt.MEDIA_TYPE_OCI_MANIFEST);
    assert.deepEqual(m.annotations, ociImage.annotations);
  });

  it('OCI image manifest without mediaType in the body takes the Content-Type', () => {
    const m = parseManifest(body(ociImageNoMediaType), mt.MEDIA_TYPE_OCI_MANIFEST);
    assert.equal(m.kind, 'image');
    assert.equal(m.mediaType, mt.MEDIA_TYPE_OCI_MANIFEST);
  });

  it('Docker manifest list with variant and os.version platforms', () => {
    const m = parseManifest(body(dockerManifestList), mt.MEDIA_TYPE_DOCKER_MANIFEST_LIST);
    assert.equal(m.kind, 'index');
    if (m.kind !== 'index') return;
    assert.equal(m.manifests.length, 3);
    assert.deepEqual(m.manifests[1]!.platform, { architecture: 'arm', os: 'linux', variant: 'v7' });
    assert.equal(m.manifests[2]!.platform!['os.version'], '10.0.20348.2227');
    assert.deepEqual(
      m.references().map((r) => r.digest),
      [d('amd64'), d('arm-v7'), d('windows')],
    );
  });

  it('buildx OCI index with an attestation manifest', () => {
    const m = parseManifest(body(buildxIndex), mt.MEDIA_TYPE_OCI_INDEX);
    assert.equal(m.kind, 'index');
    if (m.kind !== 'index') return;
    assert.equal(m.manifests[1]!.annotations!['vnd.docker.reference.type'], 'attestation-manifest');
    assert.equal(m.references().length, 2);
  });

  it('an empty OCI index, and one whose manifests come in mixed Docker/OCI types', () => {
    const empty = parseManifest(body({ schemaVersion: 2, mediaType: mt.MEDIA_TYPE_OCI_INDEX, manifests: [] }), mt.MEDIA_TYPE_OCI_INDEX);
    assert.equal(empty.references().length, 0);
    const mixed = clone(buildxIndex);
    mixed.manifests[0]!.mediaType = mt.MEDIA_TYPE_DOCKER_MANIFEST;
    assert.equal(parseManifest(body(mixed), mt.MEDIA_TYPE_OCI_INDEX).kind, 'index');
  });

  it('cosign signature and helm chart (custom config and layer types)', () => {
    assert.equal(parseManifest(body(cosignSignature), mt.MEDIA_TYPE_OCI_MANIFEST).kind, 'image');
    const helm = parseManifest(body(helmChart), mt.MEDIA_TYPE_OCI_MANIFEST);
    assert.equal(effectiveArtifactType(helm), 'application/vnd.cncf.helm.config.v1+json');
  });

  it('OCI 1.1 artifact: empty config with data, artifactType and subject', () => {
    const m = parseManifest(body(orasArtifact), mt.MEDIA_TYPE_OCI_MANIFEST);
    assert.equal(m.artifactType, 'application/vnd.example.sbom.v1');
    assert.equal(effectiveArtifactType(m), 'application/vnd.example.sbom.v1');
    assert.equal(m.subject?.digest, d('subject'));
    assert.equal(m.kind === 'image' && m.config.data, 'e30=');
    // The subject is not something the push depends on.
    assert.ok(!m.references().some((r) => r.digest === d('subject')));
  });

  it('OCI index with artifactType, subject and annotations', () => {
    const idx = { ...clone(buildxIndex), artifactType: 'application/vnd.example+type', subject: orasArtifact.subject, annotations: { a: 'b' } };
    const m = parseManifest(body(idx), mt.MEDIA_TYPE_OCI_INDEX);
    assert.equal(m.artifactType, 'application/vnd.example+type');
    assert.equal(m.subject?.digest, d('subject'));
    assert.equal(effectiveArtifactType(m), 'application/vnd.example+type');
  });

  it('ignores subject/artifactType/annotations on Docker types (they have no such fields)', () => {
    const m = parseManifest(body({ ...dockerSchema2, subject: 'junk', annotations: 5 }), mt.MEDIA_TYPE_DOCKER_MANIFEST);
    assert.equal(m.subject, undefined);
    assert.equal(m.annotations, undefined);
  });

  it('layers absent or null mean no layers (Go serialises a nil slice as null)', () => {
    const { layers: _l, ...noLayers } = ociImage;
    assert.equal(parseManifest(body(noLayers), mt.MEDIA_TYPE_OCI_MANIFEST).references().length, 1);
    assert.equal(parseManifest(body({ ...ociImage, layers: null }), mt.MEDIA_TYPE_OCI_MANIFEST).references().length, 1);
  });

  it('no Content-Type: uses the body mediaType, else infers like the read path', () => {
    assert.equal(parseManifest(body(dockerSchema2), undefined).mediaType, mt.MEDIA_TYPE_DOCKER_MANIFEST);
    assert.equal(parseManifest(body(ociImageNoMediaType), undefined).mediaType, mt.MEDIA_TYPE_OCI_MANIFEST);
    const { mediaType: _m, ...idx } = buildxIndex;
    assert.equal(parseManifest(body(idx), '').mediaType, mt.MEDIA_TYPE_OCI_INDEX);
  });

  it('keeps only known descriptor fields', () => {
    const m = parseManifest(body({ ...ociImage, config: { ...ociImage.config, extra: 1 } }), mt.MEDIA_TYPE_OCI_MANIFEST);
    assert.ok(m.kind === 'image' && !('extra' in m.config));
  });
});

describe('parseManifest: foreign layers and references()', () => {
  it('Docker foreign layers are left out of references() and listed by urlChecks()', () => {
    const m = parseManifest(body(windowsForeign), mt.MEDIA_TYPE_DOCKER_MANIFEST);
    assert.deepEqual(
      m.references().map((r) => r.digest),
      [d('win-config'), d('win-app')],
    );
    assert.deepEqual(
      m.urlChecks().map((r) => r.digest),
      [d('win-base')],
    );
  });

  it('a Docker foreign layer without urls is still a urlCheck (validateURLs refuses it)', () => {
    const m = clone(windowsForeign);
    delete (m.layers[0] as { urls?: string[] }).urls;
    const parsed = parseManifest(body(m), mt.MEDIA_TYPE_DOCKER_MANIFEST);
    assert.equal(parsed.urlChecks().length, 1);
    assert.equal(parsed.references().length, 2);
  });

  it('OCI nondistributable layers skip the existence check only when they carry urls', () => {
    const layer = (urls?: string[]) => ({
      mediaType: mt.MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE_GZIP,
      digest: d('nd'),
      size: 10,
      ...(urls ? { urls } : {}),
    });
    const withUrls = parseManifest(body({ ...ociImage, layers: [layer(['https://example.com/nd'])] }), mt.MEDIA_TYPE_OCI_MANIFEST);
    assert.deepEqual(withUrls.references().map((r) => r.digest), [d('config')]);
    assert.deepEqual(withUrls.urlChecks().map((r) => r.digest), [d('nd')]);
    const without = parseManifest(body({ ...ociImage, layers: [layer()] }), mt.MEDIA_TYPE_OCI_MANIFEST);
    assert.deepEqual(without.references().map((r) => r.digest), [d('config'), d('nd')]);
    assert.deepEqual(without.urlChecks(), []);
  });

  it('OCI distributable layers with urls are checked for both', () => {
    const l = { ...ociImage.layers[0]!, urls: ['https://example.com/l'] };
    const m = parseManifest(body({ ...ociImage, layers: [l] }), mt.MEDIA_TYPE_OCI_MANIFEST);
    assert.equal(m.references().length, 2);
    assert.equal(m.urlChecks().length, 1);
  });

  it('urls on a non-layer type are ignored, as distribution does', () => {
    const l = { ...cosignSignature.layers[0]!, urls: ['ftp://x'] };
    const m = parseManifest(body({ ...cosignSignature, layers: [l] }), mt.MEDIA_TYPE_OCI_MANIFEST);
    assert.equal(m.urlChecks().length, 0);
    assert.equal(m.references().length, 2);
  });
});

describe('parseManifest: schema 1 is refused with an actionable message', () => {
  const advice = /not supported[\s\S]*skopeo copy --format v2s2/;
  it('by Content-Type (signed and unsigned), whatever the body', () => {
    rejects(schema1Signed, mt.MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED, 'schema1', advice);
    rejects(schema1Signed, mt.MEDIA_TYPE_DOCKER_SCHEMA1, 'schema1', advice);
    rejects('not json', mt.MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED, 'schema1');
  });
  it('by schemaVersion 1 under any Content-Type, or none', () => {
    rejects(schema1Signed, mt.MEDIA_TYPE_DOCKER_MANIFEST, 'schema1', advice);
    rejects(schema1Signed, mt.MEDIA_TYPE_OCI_MANIFEST, 'schema1');
    rejects(schema1Signed, undefined, 'schema1');
  });
  it('by body mediaType', () => {
    rejects({ ...dockerSchema2, mediaType: mt.MEDIA_TYPE_DOCKER_SCHEMA1 }, undefined, 'schema1');
  });
  it('error code is MANIFEST_INVALID', () => {
    try {
      parseManifest(body(schema1Signed), undefined);
      assert.fail('no error');
    } catch (err) {
      assert.ok(err instanceof ManifestError);
      assert.equal(err.code, 'MANIFEST_INVALID');
    }
  });
});

describe('parseManifest: media type rules', () => {
  it('body mediaType must match the Content-Type', () => {
    rejects(ociImage, mt.MEDIA_TYPE_DOCKER_MANIFEST, 'invalid', /does not match the Content-Type/);
    rejects(dockerSchema2, mt.MEDIA_TYPE_OCI_MANIFEST, 'invalid', /does not match/);
    rejects(buildxIndex, mt.MEDIA_TYPE_DOCKER_MANIFEST_LIST, 'invalid', /does not match/);
  });
  it('Docker types require mediaType in the body', () => {
    const { mediaType: _a, ...s2 } = dockerSchema2;
    rejects(s2, mt.MEDIA_TYPE_DOCKER_MANIFEST, 'invalid', /mediaType is required in a Docker manifest/);
    const { mediaType: _b, ...list } = dockerManifestList;
    rejects(list, mt.MEDIA_TYPE_DOCKER_MANIFEST_LIST, 'invalid', /required/);
  });
  it('unknown Content-Types are unsupported-media-type', () => {
    rejects(ociImage, 'application/json', 'unsupported-media-type', /application\/vnd\.oci\.image\.manifest\.v1\+json/);
    rejects(ociImage, 'text/plain', 'unsupported-media-type');
    rejects(ociImage, 'application/octet-stream', 'unsupported-media-type');
  });
  it('the withdrawn OCI artifact manifest type says what to do instead', () => {
    const art = { mediaType: mt.MEDIA_TYPE_OCI_ARTIFACT_MANIFEST, artifactType: 'a/b', blobs: [] };
    rejects(art, mt.MEDIA_TYPE_OCI_ARTIFACT_MANIFEST, 'unsupported-media-type', /withdrawn[\s\S]*artifactType/);
    rejects(art, undefined, 'unsupported-media-type', /withdrawn/);
  });
  it('unknown body mediaType without Content-Type, or nothing to infer from', () => {
    rejects({ ...ociImage, mediaType: 'application/x-foo' }, undefined, 'unsupported-media-type');
    rejects({ schemaVersion: 2 }, undefined, 'unsupported-media-type', /Content-Type/);
  });
  it('mediaType of the wrong JSON type', () => {
    rejects({ ...ociImage, mediaType: 7 }, mt.MEDIA_TYPE_OCI_MANIFEST, 'invalid', /mediaType must be a string/);
  });
  it('an image body posing as an index and the other way round (CVE-2021-41190)', () => {
    rejects({ ...ociImageNoMediaType, manifests: [] }, mt.MEDIA_TYPE_OCI_MANIFEST, 'invalid', /expected a manifest but found an index/);
    rejects({ ...buildxIndex, layers: [] }, mt.MEDIA_TYPE_OCI_INDEX, 'invalid', /expected an index but found a manifest/);
    rejects({ ...buildxIndex, config: ociImage.config }, mt.MEDIA_TYPE_OCI_INDEX, 'invalid', /config/);
    const { mediaType: _m, ...noMT } = ociImage;
    rejects(noMT, mt.MEDIA_TYPE_OCI_INDEX, 'invalid', /expected an index but found a manifest/);
    rejects({ schemaVersion: 2 }, mt.MEDIA_TYPE_OCI_INDEX, 'invalid', /manifests is required/);
  });
});

describe('parseManifest: structure', () => {
  it('body must be a JSON object within the size limit', () => {
    rejects('{"schemaVersion": 2,', mt.MEDIA_TYPE_OCI_MANIFEST, 'invalid', /not valid JSON/);
    rejects('[]', mt.MEDIA_TYPE_OCI_MANIFEST, 'invalid', /JSON object/);
    rejects('null', mt.MEDIA_TYPE_OCI_MANIFEST, 'invalid', /JSON object/);
    rejects('', mt.MEDIA_TYPE_OCI_MANIFEST, 'invalid', /not valid JSON/);
    rejects(Buffer.alloc(MAX_MANIFEST_BYTES + 1, 0x20), mt.MEDIA_TYPE_OCI_MANIFEST, 'invalid', /limit is 4194304 bytes/);
    assert.equal(MAX_MANIFEST_BYTES, 4 * 1024 * 1024);
  });
  it('schemaVersion must be present and 2', () => {
    const { schemaVersion: _s, ...none } = ociImage;
    rejects(none, mt.MEDIA_TYPE_OCI_MANIFEST, 'invalid', /schemaVersion is required/);
    rejects({ ...ociImage, schemaVersion: 3 }, mt.MEDIA_TYPE_OCI_MANIFEST, 'invalid', /schemaVersion must be 2, not 3/);
    rejects({ ...ociImage, schemaVersion: '2' }, mt.MEDIA_TYPE_OCI_MANIFEST, 'invalid', /schemaVersion/);
  });
  it('image needs a config; layers must be an array', () => {
    const { config: _c, ...noConfig } = ociImage;
    rejects(noConfig, mt.MEDIA_TYPE_OCI_MANIFEST, 'invalid', /config is required/);
    rejects({ ...ociImage, layers: {} }, mt.MEDIA_TYPE_OCI_MANIFEST, 'invalid', /layers must be an array/);
    rejects({ ...ociImage, layers: ['x'] }, mt.MEDIA_TYPE_OCI_MANIFEST, 'invalid', /layers\[0\] must be a descriptor object/);
  });
  it('index children must be manifests of a supported type', () => {
    const blobChild = clone(buildxIndex);
    blobChild.manifests[0]!.mediaType = mt.MEDIA_TYPE_OCI_LAYER_GZIP;
    rejects(blobChild, mt.MEDIA_TYPE_OCI_INDEX, 'invalid', /manifests\[0\]\.mediaType .* is not allowed/);
    const s1Child = clone(dockerManifestList);
    s1Child.manifests[2]!.mediaType = mt.MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED;
    rejects(s1Child, mt.MEDIA_TYPE_DOCKER_MANIFEST_LIST, 'invalid', /manifests\[2\]/);
    rejects({ ...buildxIndex, manifests: 'x' }, mt.MEDIA_TYPE_OCI_INDEX, 'invalid', /must be an array/);
  });
  it('platform objects are validated', () => {
    const bad = (platform: unknown, re: RegExp) => {
      const idx = clone(dockerManifestList) as { manifests: Record<string, unknown>[] };
      idx.manifests[0]!.platform = platform;
      rejects(idx, mt.MEDIA_TYPE_DOCKER_MANIFEST_LIST, 'invalid', re);
    };
    bad('linux/amd64', /manifests\[0\]\.platform must be an object/);
    bad({ os: 'linux' }, /platform\.architecture must be a non-empty string/);
    bad({ architecture: 'amd64' }, /platform\.os/);
    bad({ architecture: 'amd64', os: 'linux', variant: 8 }, /platform\.variant must be a string/);
    bad({ architecture: 'amd64', os: 'windows', 'os.features': 'win32k' }, /os\.features must be an array/);
    bad({ architecture: 'amd64', os: 'linux', features: [1] }, /features\[0\]/);
  });
  it('top-level annotations, artifactType and subject are validated on OCI types', () => {
    rejects({ ...ociImage, annotations: { a: 1 } }, mt.MEDIA_TYPE_OCI_MANIFEST, 'invalid', /annotations\["a"\] must be a string/);
    rejects({ ...ociImage, annotations: [] }, mt.MEDIA_TYPE_OCI_MANIFEST, 'invalid', /annotations must be an object/);
    rejects({ ...orasArtifact, artifactType: 'sbom' }, mt.MEDIA_TYPE_OCI_MANIFEST, 'invalid', /artifactType .* not a valid media type/);
    rejects({ ...orasArtifact, subject: { ...orasArtifact.subject, size: -1 } }, mt.MEDIA_TYPE_OCI_MANIFEST, 'invalid', /subject\.size/);
    rejects({ ...orasArtifact, subject: 'sha256:abc' }, mt.MEDIA_TYPE_OCI_MANIFEST, 'invalid', /subject must be a descriptor/);
  });
});

describe('parseManifest: descriptors', () => {
  const withLayer = (layer: unknown) => ({ ...ociImage, layers: [layer] });
  const base = ociImage.layers[0]!;
  const kindOf = (layer: unknown, kind: ManifestErrorKind, re: RegExp) => rejects(withLayer(layer), mt.MEDIA_TYPE_OCI_MANIFEST, kind, re);

  it('mediaType: required, a string, RFC 6838 grammar without parameters', () => {
    const { mediaType: _m, ...noType } = base;
    kindOf(noType, 'invalid', /layers\[0\]\.mediaType is required/);
    kindOf({ ...base, mediaType: 5 }, 'invalid', /mediaType must be a media type string/);
    kindOf({ ...base, mediaType: 'tar' }, 'invalid', /not a valid media type/);
    kindOf({ ...base, mediaType: 'application/x; a=b' }, 'invalid', /not a valid media type/);
    kindOf({ ...base, mediaType: 'application/-x' }, 'invalid', /not a valid media type/);
    kindOf({ ...base, mediaType: `application/${'x'.repeat(128)}` }, 'invalid', /not a valid media type/);
  });
  it('digest: malformed or unsupported algorithms are digest-invalid (DIGEST_INVALID)', () => {
    kindOf({ ...base, digest: 'sha256:zz' }, 'digest-invalid', /layers\[0\]\.digest/);
    kindOf({ ...base, digest: 'md5:d41d8cd98f00b204e9800998ecf8427e' }, 'digest-invalid', /unsupported digest algorithm/);
    kindOf({ ...base, digest: d('x').toUpperCase() }, 'digest-invalid', /digest/);
    kindOf({ ...base, digest: 42 }, 'digest-invalid', /must be a digest string/);
    const { digest: _d, ...noDigest } = base;
    kindOf(noDigest, 'digest-invalid', /digest/);
    try {
      parseManifest(body(withLayer({ ...base, digest: 'sha256:zz' })), mt.MEDIA_TYPE_OCI_MANIFEST);
    } catch (err) {
      assert.ok(err instanceof ManifestError);
      assert.equal(err.code, 'DIGEST_INVALID');
      assert.equal(err.detail?.path, 'layers[0].digest');
    }
  });
  it('size: a non-negative safe integer', () => {
    for (const size of [-1, 1.5, '12', null, 2 ** 53, Number.NaN]) {
      kindOf({ ...base, size }, 'invalid', /layers\[0\]\.size must be a non-negative integer/);
    }
    const { size: _s, ...noSize } = base;
    kindOf(noSize, 'invalid', /size/);
    assert.equal(parseManifest(body(withLayer({ ...base, size: 0 })), mt.MEDIA_TYPE_OCI_MANIFEST).kind, 'image');
  });
  it('urls: an array of strings; annotations: a string map', () => {
    kindOf({ ...base, urls: 'https://x' }, 'invalid', /urls must be an array/);
    kindOf({ ...base, urls: [1] }, 'invalid', /urls\[0\] must be a string/);
    kindOf({ ...base, annotations: { k: true } }, 'invalid', /annotations\["k"\]/);
  });
  it('data must be base64 and agree with size and digest', () => {
    const cfg = orasArtifact.config;
    const withCfg = (config: unknown) => ({ ...orasArtifact, config });
    rejects(withCfg({ ...cfg, data: 'e30' }), mt.MEDIA_TYPE_OCI_MANIFEST, 'invalid', /base64/);
    rejects(withCfg({ ...cfg, data: 'e30=', size: 3 }), mt.MEDIA_TYPE_OCI_MANIFEST, 'invalid', /decodes to 2 bytes/);
    rejects(withCfg({ ...cfg, data: 'W10=' }), mt.MEDIA_TYPE_OCI_MANIFEST, 'invalid', /does not match digest/);
    rejects(withCfg({ ...cfg, data: 5 }), mt.MEDIA_TYPE_OCI_MANIFEST, 'invalid', /data must be a base64 string/);
  });
  it('descriptor artifactType must be a media type', () => {
    kindOf({ ...base, artifactType: 'nope' }, 'invalid', /artifactType/);
  });
});

describe('helpers', () => {
  it('contentTypeMediaType', () => {
    assert.equal(contentTypeMediaType(undefined), undefined);
    assert.equal(contentTypeMediaType('  '), undefined);
    assert.equal(contentTypeMediaType('Application/JSON ; charset=utf-8'), 'application/json');
  });
  it('storedManifestMediaType reads back what parseManifest accepted', () => {
    assert.equal(storedManifestMediaType(body(dockerSchema2)), mt.MEDIA_TYPE_DOCKER_MANIFEST);
    assert.equal(storedManifestMediaType(body(ociImageNoMediaType)), mt.MEDIA_TYPE_OCI_MANIFEST);
    const { mediaType: _m, ...idx } = buildxIndex;
    assert.equal(storedManifestMediaType(body(idx)), mt.MEDIA_TYPE_OCI_INDEX);
    assert.equal(storedManifestMediaType(body(dockerManifestList)), mt.MEDIA_TYPE_DOCKER_MANIFEST_LIST);
    assert.equal(storedManifestMediaType(Buffer.from('garbage')), mt.MEDIA_TYPE_OCI_MANIFEST);
  });
  it('media type predicates', () => {
    assert.ok(mt.isForeignLayerMediaType(mt.MEDIA_TYPE_DOCKER_FOREIGN_LAYER));
    assert.ok(mt.isForeignLayerMediaType(mt.MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE_ZSTD));
    assert.ok(!mt.isForeignLayerMediaType(mt.MEDIA_TYPE_DOCKER_LAYER));
    assert.ok(mt.isValidMediaType('application/vnd.oci.image.layer.v1.tar+gzip'));
    assert.ok(!mt.isValidMediaType('application/vnd.oci.image.layer.v1.tar+gzip/x'));
    assert.deepEqual([...mt.MANIFEST_MEDIA_TYPES].sort(), [
      mt.MEDIA_TYPE_DOCKER_MANIFEST_LIST,
      mt.MEDIA_TYPE_DOCKER_MANIFEST,
      mt.MEDIA_TYPE_OCI_INDEX,
      mt.MEDIA_TYPE_OCI_MANIFEST,
    ].sort());
  });
});
