/**
 * Grammar of the names that appear in `/v2/<name>/manifests/<reference>`:
 * repository names, tags, and the tag-or-digest `<reference>` itself.
 *
 * The rules are those of the OCI Distribution Spec 1.1 (and of
 * github.com/distribution/reference, which CNCF distribution uses):
 *
 *   name       := component ('/' component)*          at most 255 characters
 *   component  := [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
 *   tag        := [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
 *   reference  := tag | digest                          (a ':' means digest)
 *
 * Every check runs on bounded input (the length is tested before any regular
 * expression) and the expressions are unambiguous, so hostile input cannot
 * make them backtrack.
 */
import { parseDigest, type Algorithm, type Digest } from '../digest/digest.js';

/** Longest repository name, in characters, counting the slashes. */
export const NAME_MAX_LENGTH = 255;
/** Longest tag, in characters. */
export const TAG_MAX_LENGTH = 128;

/** A repository name that passed {@link parseRepositoryName}. */
export type RepositoryName = string & { readonly __repositoryName: unique symbol };
/** A tag that passed {@link parseTag}. */
export type Tag = string & { readonly __tag: unique symbol };

const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const NAME = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/** Why a repository name was refused; stable values callers may branch on. */
export type NameInvalidReason =
  | 'not-a-string'
  | 'empty'
  | 'too-long'
  | 'empty-component' // leading, trailing or doubled '/'
  | 'uppercase'
  | 'invalid-component';

/** Raised for a repository name that breaks the grammar (NAME_INVALID in the HTTP API). */
export class NameInvalidError extends Error {
  readonly code = 'NAME_INVALID';
  constructor(
    readonly reason: NameInvalidReason,
    message: string,
    /** The offending input, cut to a printable length. */
    readonly input: string,
  ) {
    super(message);
    this.name = 'NameInvalidError';
  }
}

/** Why a tag was refused. */
export type TagInvalidReason = 'not-a-string' | 'empty' | 'too-long' | 'invalid-first-character' | 'invalid-character';

/**
 * Raised for a tag that breaks the grammar. The HTTP layer picks the code
 * (the reference implementation answers a malformed tag in a URL with a bare
 * 404, since its router never matches it).
 */
export class TagInvalidError extends Error {
  constructor(
    readonly reason: TagInvalidReason,
    message: string,
    readonly input: string,
  ) {
    super(message);
    this.name = 'TagInvalidError';
  }
}

/** Cut user input before echoing it in a message or log line. */
function shown(s: string, max = 100): string {
  return JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s);
}

/** Diagnose a name already known to fail the grammar; only runs on the error path. */
function nameFailure(name: string): NameInvalidError {
  const cut = name.slice(0, 300);
  const components = name.split('/');
  if (components.some((c) => c === '')) {
    return new NameInvalidError(
      'empty-component',
      `invalid repository name ${shown(name)}: it must not start or end with '/' or contain '//'`,
      cut,
    );
  }
  const bad = components.find((c) => !COMPONENT.test(c)) ?? name;
  if (/[A-Z]/.test(bad) && COMPONENT.test(bad.toLowerCase())) {
    return new NameInvalidError('uppercase', `invalid repository name ${shown(name)}: it must be lowercase`, cut);
  }
  return new NameInvalidError(
    'invalid-component',
    `invalid repository name ${shown(name)}: path component ${shown(bad, 60)} must be lowercase letters and digits, ` +
      `separated by '.', '_', '__' or dashes, and must start and end with a letter or digit`,
    cut,
  );
}

/** Check a repository name and brand it; throws {@link NameInvalidError}. */
export function parseRepositoryName(name: string): RepositoryName {
  if (typeof name !== 'string') throw new NameInvalidError('not-a-string', 'repository name must be a string', '');
  if (name.length === 0) throw new NameInvalidError('empty', 'repository name must not be empty', '');
  if (name.length > NAME_MAX_LENGTH) {
    throw new NameInvalidError(
      'too-long',
      `repository name is ${name.length} characters long; the limit is ${NAME_MAX_LENGTH}`,
      name.slice(0, 300),
    );
  }
  if (!NAME.test(name)) throw nameFailure(name);
  return name as RepositoryName;
}

export function isValidRepositoryName(name: string): name is RepositoryName {
  return typeof name === 'string' && name.length > 0 && name.length <= NAME_MAX_LENGTH && NAME.test(name);
}

/** Check a tag and brand it; throws {@link TagInvalidError}. */
export function parseTag(tag: string): Tag {
  if (typeof tag !== 'string') throw new TagInvalidError('not-a-string', 'tag must be a string', '');
  if (tag.length === 0) throw new TagInvalidError('empty', 'tag must not be empty', '');
  if (tag.length > TAG_MAX_LENGTH) {
    throw new TagInvalidError(
      'too-long',
      `tag is ${tag.length} characters long; the limit is ${TAG_MAX_LENGTH}`,
      tag.slice(0, 300),
    );
  }
  if (TAG.test(tag)) return tag as Tag;
  if (!/^[a-zA-Z0-9_]/.test(tag)) {
    return failTag('invalid-first-character', tag, 'it must start with a letter, a digit or \'_\'');
  }
  return failTag('invalid-character', tag, "it may contain only letters, digits, '_', '.' and '-'");
}

function failTag(reason: TagInvalidReason, tag: string, why: string): never {
  throw new TagInvalidError(reason, `invalid tag ${shown(tag)}: ${why}`, tag.slice(0, 300));
}

export function isValidTag(tag: string): tag is Tag {
  return typeof tag === 'string' && TAG.test(tag);
}

/** The `<reference>` of a manifest URL, decided. */
export type ManifestReference =
  | { kind: 'tag'; tag: Tag }
  | { kind: 'digest'; digest: Digest; algorithm: Algorithm; hex: string };

/**
 * Decide whether `<reference>` in `/v2/<name>/manifests/<reference>` is a tag
 * or a digest. A colon can never occur in a tag, so a string holding one is
 * a digest and must parse as one; anything else must be a valid tag.
 *
 * Throws {@link TagInvalidError}, or DigestError from the digest module (kind
 * `unsupported` for a well-formed digest whose algorithm we do not verify).
 */
export function parseReference(reference: string): ManifestReference {
  if (typeof reference === 'string' && reference.includes(':')) {
    const { digest, algorithm, hex } = parseDigest(reference);
    return { kind: 'digest', digest, algorithm, hex };
  }
  return { kind: 'tag', tag: parseTag(reference) };
}
