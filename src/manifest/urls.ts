/**
 * The `validation` settings for layer URLs, as the reference implementation
 * applies them on manifest PUT:
 *
 *   validation:
 *     disabled: false          # default; `enabled: true` is the old spelling
 *     manifests:
 *       urls:
 *         allow: [regex, ...]
 *         deny:  [regex, ...]
 *
 * - Every URL must parse, use http or https, and have no fragment.
 * - Validation enabled (the default) with neither list set: no URL is
 *   allowed, so any manifest with a checked URL is refused.
 * - Otherwise a URL must match some `allow` pattern (when `allow` is set)
 *   and no `deny` pattern (when `deny` is set). Patterns are searched, not
 *   anchored, as Go's MatchString does; anchor them with ^ in the config.
 * - Validation disabled: only the scheme/fragment rule applies.
 *
 * Which descriptors get checked is decided by `Manifest.urlChecks()`.
 */
import type { Descriptor } from './descriptor.js';
import { ManifestError } from './errors.js';
import { MEDIA_TYPE_DOCKER_FOREIGN_LAYER } from './media-types.js';

export interface URLPolicy {
  allow?: RegExp[];
  deny?: RegExp[];
  /** `validation.disabled: true`: only the scheme and fragment are checked. */
  disabled?: boolean;
}

function refuse(descriptor: Descriptor, url: string, why: string): ManifestError {
  return new ManifestError(
    'invalid',
    `manifest invalid: layer ${descriptor.digest} has URL ${JSON.stringify(url.slice(0, 300))}: ${why}`,
    { digest: descriptor.digest, url: url.slice(0, 300) },
  );
}

function matches(patterns: RegExp[], url: string): boolean {
  // String.search ignores the g/y flags and lastIndex, unlike RegExp.test.
  return patterns.some((re) => url.search(re) !== -1);
}

/** Check a descriptor's `urls` against the policy; throws ManifestError (kind `invalid`). */
export function validateURLs(descriptor: Descriptor, policy: URLPolicy = {}): void {
  const urls = descriptor.urls ?? [];
  if (urls.length === 0 && descriptor.mediaType === MEDIA_TYPE_DOCKER_FOREIGN_LAYER) {
    throw new ManifestError(
      'invalid',
      `manifest invalid: foreign layer ${descriptor.digest} has no urls; a foreign layer must say where it can be downloaded`,
      { digest: descriptor.digest },
    );
  }
  const allow = policy.allow ?? [];
  const deny = policy.deny ?? [];
  for (const url of urls) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw refuse(descriptor, url, 'not a valid absolute URL');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw refuse(descriptor, url, 'only http and https URLs are allowed');
    if (parsed.hash !== '') throw refuse(descriptor, url, 'URLs must not have a fragment');
    if (policy.disabled) continue;
    if (allow.length === 0 && deny.length === 0) {
      throw refuse(descriptor, url, 'this registry accepts no layer URLs (validation.manifests.urls.allow is not set)');
    }
    if (allow.length > 0 && !matches(allow, url)) throw refuse(descriptor, url, 'it matches no validation.manifests.urls.allow pattern');
    if (deny.length > 0 && matches(deny, url)) throw refuse(descriptor, url, 'it matches a validation.manifests.urls.deny pattern');
  }
}
