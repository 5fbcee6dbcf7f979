import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateURLs, type URLPolicy } from '../../src/manifest/urls.js';
import { ManifestError } from '../../src/manifest/errors.js';
import { parseManifest } from '../../src/manifest/manifest.js';
import type { Descriptor } from '../../src/manifest/descriptor.js';
import { MEDIA_TYPE_DOCKER_FOREIGN_LAYER, MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE } from '../../src/manifest/media-types.js';
import { body, d, windowsForeign } from './fixtures.js';

const layer = (urls?: string[], mediaType = MEDIA_TYPE_DOCKER_FOREIGN_LAYER): Descriptor => ({
  mediaType,
  digest: d('foreign'),
  size: 100,
  ...(urls ? { urls } : {}),
});

function refused(desc: Descriptor, policy: URLPolicy | undefined, re: RegExp) {
  assert.throws(
    () => validateURLs(desc, policy),
    (err: unknown) => err instanceof ManifestError && err.kind === 'invalid' && re.test(err.message) && err.detail?.digest === desc.digest,
  );
}

const mcr = 'https://mcr.microsoft.com/v2/windows/servercore/blobs/sha256:abc';

describe('validateURLs', () => {
  it('default policy (validation enabled, no lists) accepts no URL at all', () => {
    refused(layer([mcr]), undefined, /accepts no layer URLs/);
    refused(layer([mcr]), {}, /accepts no layer URLs/);
    refused(layer([mcr]), { allow: [], deny: [] }, /accepts no layer URLs/);
  });

  it('a layer without URLs passes unless it is a Docker foreign layer', () => {
    validateURLs(layer(undefined, MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE));
    validateURLs(layer([], MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE));
    refused(layer(undefined), { disabled: true }, /foreign layer .* has no urls/);
    refused(layer([]), { allow: [/./] }, /has no urls/);
  });

  it('allow list: every URL must match some pattern (searched, not anchored)', () => {
    const policy = { allow: [/^https:\/\/mcr\.microsoft\.com\//, /example\.org/] };
    validateURLs(layer([mcr, 'http://cdn.example.org/x']), policy);
    refused(layer([mcr, 'https://evil.test/x']), policy, /matches no validation\.manifests\.urls\.allow pattern/);
  });

  it('deny list: no URL may match; deny alone allows everything else', () => {
    validateURLs(layer([mcr]), { deny: [/evil/] });
    refused(layer(['https://evil.test/x']), { deny: [/evil/] }, /urls\.deny pattern/);
    refused(layer([mcr]), { allow: [/microsoft/], deny: [/servercore/] }, /deny/);
  });

  it('global or sticky regexps give the same answer every time', () => {
    const policy = { allow: [/microsoft/g] };
    for (let i = 0; i < 3; i++) validateURLs(layer([mcr, mcr]), policy);
  });

  it('only http(s), parseable, without fragment — even when validation is disabled', () => {
    const off = { disabled: true };
    validateURLs(layer(['http://anything.test/x', mcr]), off);
    refused(layer(['ftp://host/x']), off, /only http and https/);
    refused(layer(['file:///etc/passwd']), off, /only http and https/);
    refused(layer(['not a url']), off, /not a valid absolute URL/);
    refused(layer(['/relative/path']), off, /not a valid absolute URL/);
    refused(layer(['https://host/x#frag']), off, /fragment/);
    refused(layer(['https://host/x#frag']), { allow: [/./] }, /fragment/);
  });

  it('works with urlChecks() of a parsed Windows image', () => {
    const m = parseManifest(body(windowsForeign), MEDIA_TYPE_DOCKER_MANIFEST);
    const allowMcr = { allow: [/^https:\/\/mcr\.microsoft\.com\//] };
    for (const desc of m.urlChecks()) validateURLs(desc, allowMcr);
    assert.throws(() => m.urlChecks().forEach((desc) => validateURLs(desc)), ManifestError);
  });
});
