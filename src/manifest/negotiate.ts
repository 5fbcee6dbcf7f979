/**
 * Content negotiation on manifest GET/HEAD, as CNCF distribution v3 does it
 * (registry/handlers/manifests.go; checked against its source and, where
 * the rules are the same, against Debian's 2.8.2 build with curl):
 *
 * 1. The Accept header(s) are split on ','; each entry is parsed like Go's
 *    mime.ParseMediaType (type lowercased, parameters must be well-formed,
 *    otherwise the entry is skipped). q-values are ignored: `;q=0` still
 *    counts as accepted. Wildcard entries (any type, any subtype) match
 *    nothing. (2.8.2 compared the raw text case-sensitively instead.)
 * 2. Stored OCI image manifest: served only if the client listed
 *    application/vnd.oci.image.manifest.v1+json, by tag or by digest; else
 *    404 MANIFEST_UNKNOWN "OCI manifest found, but accept header does not
 *    support OCI manifests".
 * 3. Stored OCI index: likewise with the index type; else 404
 *    MANIFEST_UNKNOWN "OCI index found, but accept header does not support
 *    OCI indexes".
 * 4. Stored Docker schema 2 manifest: always served. (2.8.2 rewrote it to
 *    schema 1 for clients that did not list it; v3 dropped schema 1.)
 * 5. Stored Docker manifest list: served when listed, or when fetched by
 *    digest. Fetched by tag by a client that did not list it: the registry
 *    serves instead the first child whose platform is linux/amd64 (404
 *    MANIFEST_UNKNOWN when there is none or it cannot be read); if that child
 *    is a schema 2 manifest the client did not list either, 400
 *    MANIFEST_INVALID "Schema 2 manifest not supported by client". The
 *    child is then answered with its own digest and type.
 */
import type { Descriptor, Platform } from './descriptor.js';
import {
  MEDIA_TYPE_DOCKER_MANIFEST,
  MEDIA_TYPE_DOCKER_MANIFEST_LIST,
  MEDIA_TYPE_OCI_INDEX,
  MEDIA_TYPE_OCI_MANIFEST,
} from './media-types.js';

/** The platform old clients get from a manifest list (distribution's defaultOS/defaultArch). */
export const DEFAULT_PLATFORM: Readonly<Pick<Platform, 'os' | 'architecture'>> = { os: 'linux', architecture: 'amd64' };

const TSPECIALS = new Set('()<>@,;:\\"/[]?=');

function isTokenChar(c: string): boolean {
  const code = c.charCodeAt(0);
  return code > 0x20 && code < 0x7f && !TSPECIALS.has(c);
}

/** Longest prefix of token characters, and the rest. */
function consumeToken(s: string): [string, string] {
  let i = 0;
  while (i < s.length && isTokenChar(s[i]!)) i++;
  return [s.slice(0, i), s.slice(i)];
}

/** A parameter value: a token or a quoted string. Undefined when malformed. */
function consumeValue(s: string): [string, string] | undefined {
  if (!s.startsWith('"')) {
    const [token, rest] = consumeToken(s);
    return token === '' ? undefined : [token, rest];
  }
  let value = '';
  for (let i = 1; i < s.length; i++) {
    const c = s[i]!;
    if (c === '"') return [value, s.slice(i + 1)];
    if (c === '\\' && i + 1 < s.length && TSPECIALS.has(s[i + 1]!)) {
      value += s[++i];
      continue;
    }
    if (c === '\r' || c === '\n') return undefined;
    value += c;
  }
  return undefined; // no closing quote
}

/**
 * The media type of one Accept entry, lowercased, or undefined when Go's
 * mime.ParseMediaType would reject the entry.
 */
export function parseAcceptEntry(entry: string): string | undefined {
  const semi = entry.indexOf(';');
  const mediaType = (semi === -1 ? entry : entry.slice(0, semi)).toLowerCase().trim();
  const [type, afterType] = consumeToken(mediaType);
  if (type === '') return undefined;
  if (afterType !== '') {
    if (!afterType.startsWith('/')) return undefined;
    const [subtype, rest] = consumeToken(afterType.slice(1));
    if (subtype === '' || rest !== '') return undefined;
  }
  if (semi === -1) return mediaType;

  const seen = new Map<string, string>();
  let rest = entry.slice(semi);
  for (;;) {
    rest = rest.trimStart();
    if (rest === '') break;
    if (!rest.startsWith(';')) return undefined;
    const afterSemi = rest.slice(1).trimStart();
    const [name, afterName] = consumeToken(afterSemi);
    if (name === '') {
      if (afterSemi.trim() === '') break; // one trailing ';' is tolerated
      return undefined;
    }
    const afterEq = afterName.trimStart();
    if (!afterEq.startsWith('=')) return undefined;
    const parsed = consumeValue(afterEq.slice(1).trimStart());
    if (parsed === undefined) return undefined;
    const key = name.toLowerCase();
    const previous = seen.get(key);
    if (previous !== undefined && previous !== parsed[0]) return undefined; // conflicting duplicate
    seen.set(key, parsed[0]);
    rest = parsed[1];
  }
  return mediaType;
}

/** Every media type the client listed (see rule 1 above). */
export function acceptedMediaTypes(acceptHeader: string | string[] | undefined): Set<string> {
  const out = new Set<string>();
  if (acceptHeader === undefined) return out;
  for (const header of Array.isArray(acceptHeader) ? acceptHeader : [acceptHeader]) {
    for (const entry of header.split(',')) {
      const mediaType = parseAcceptEntry(entry);
      if (mediaType !== undefined) out.add(mediaType);
    }
  }
  return out;
}

/**
 * Whether the client listed `mediaType` in Accept: distribution's
 * `supports[...]`. This alone does not decide what is served (Docker
 * schema 2 is served regardless); use {@link negotiateManifest} for that.
 */
export function acceptsMediaType(acceptHeader: string | string[] | undefined, mediaType: string): boolean {
  return acceptedMediaTypes(acceptHeader).has(mediaType.toLowerCase());
}

export type NegotiationRefusal = {
  action: 'refuse';
  status: 400 | 404;
  code: 'MANIFEST_UNKNOWN' | 'MANIFEST_INVALID';
  message: string;
};

export type Negotiation =
  | { action: 'serve' }
  /** Serve the manifest list's child for `platform` instead; then call {@link negotiateFallbackChild}. */
  | { action: 'fallback'; platform: Readonly<Pick<Platform, 'os' | 'architecture'>> }
  | NegotiationRefusal;

/** Decide what to answer for a stored manifest of `mediaType` (rules 2-5 above). */
export function negotiateManifest(
  acceptHeader: string | string[] | undefined,
  mediaType: string,
  requestedByTag: boolean,
): Negotiation {
  const accepted = acceptedMediaTypes(acceptHeader);
  switch (mediaType) {
    case MEDIA_TYPE_OCI_MANIFEST:
      return accepted.has(MEDIA_TYPE_OCI_MANIFEST)
        ? { action: 'serve' }
        : refuse(404, 'MANIFEST_UNKNOWN', 'OCI manifest found, but accept header does not support OCI manifests');
    case MEDIA_TYPE_OCI_INDEX:
      return accepted.has(MEDIA_TYPE_OCI_INDEX)
        ? { action: 'serve' }
        : refuse(404, 'MANIFEST_UNKNOWN', 'OCI index found, but accept header does not support OCI indexes');
    case MEDIA_TYPE_DOCKER_MANIFEST_LIST:
      return requestedByTag && !accepted.has(MEDIA_TYPE_DOCKER_MANIFEST_LIST)
        ? { action: 'fallback', platform: DEFAULT_PLATFORM }
        : { action: 'serve' };
    default:
      return { action: 'serve' };
  }
}

/** The child a fallback serves: the first whose platform matches, or undefined (→ 404 MANIFEST_UNKNOWN). */
export function selectPlatformChild(
  manifests: readonly Descriptor[],
  platform: Readonly<Pick<Platform, 'os' | 'architecture'>> = DEFAULT_PLATFORM,
): Descriptor | undefined {
  return manifests.find((m) => m.platform?.os === platform.os && m.platform?.architecture === platform.architecture);
}

/** Whether the fallback child may be served to this client (rule 5, last step). */
export function negotiateFallbackChild(
  acceptHeader: string | string[] | undefined,
  childMediaType: string,
): { action: 'serve' } | NegotiationRefusal {
  if (childMediaType === MEDIA_TYPE_DOCKER_MANIFEST && !acceptsMediaType(acceptHeader, MEDIA_TYPE_DOCKER_MANIFEST)) {
    return refuse(400, 'MANIFEST_INVALID', 'Schema 2 manifest not supported by client');
  }
  return { action: 'serve' };
}

function refuse(status: 400 | 404, code: NegotiationRefusal['code'], message: string): NegotiationRefusal {
  return { action: 'refuse', status, code, message };
}
