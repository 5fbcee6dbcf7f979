/**
 * The on-disk layout, byte-compatible with CNCF distribution. This is the only module that knows
 * where anything lives; everything else asks it. All paths are driver paths under ROOT.
 */
import { algorithmOf, hexOf, type Algorithm, type Digest } from '../digest/digest.js';

export const ROOT = '/docker/registry/v2';
export const BLOBS_ROOT = `${ROOT}/blobs`;
export const REPOSITORIES_ROOT = `${ROOT}/repositories`;

/** The directory holding one blob: blobs/<alg>/<hex[:2]>/<hex>. */
export function blobDir(digest: Digest): string {
  const hex = hexOf(digest);
  return `${BLOBS_ROOT}/${algorithmOf(digest)}/${hex.slice(0, 2)}/${hex}`;
}

/** The blob's bytes. */
export function blobDataPath(digest: Digest): string {
  return `${blobDir(digest)}/data`;
}

export function repositoryDir(name: string): string {
  return `${REPOSITORIES_ROOT}/${name}`;
}

/** The repository's layer link: the repository may serve this blob. */
export function layerLinkPath(name: string, digest: Digest): string {
  return `${repositoryDir(name)}/_layers/${algorithmOf(digest)}/${hexOf(digest)}/link`;
}

export function layersDir(name: string): string {
  return `${repositoryDir(name)}/_layers`;
}

export function manifestsDir(name: string): string {
  return `${repositoryDir(name)}/_manifests`;
}

export function manifestRevisionsDir(name: string, algorithm?: Algorithm): string {
  const base = `${manifestsDir(name)}/revisions`;
  return algorithm ? `${base}/${algorithm}` : base;
}

/** The link saying manifest <digest> belongs to the repository. */
export function manifestRevisionLinkPath(name: string, digest: Digest): string {
  return `${manifestRevisionsDir(name, algorithmOf(digest))}/${hexOf(digest)}/link`;
}

export function tagsDir(name: string): string {
  return `${manifestsDir(name)}/tags`;
}

export function tagDir(name: string, tag: string): string {
  return `${tagsDir(name)}/${tag}`;
}

/** The digest the tag points to now. */
export function tagCurrentLinkPath(name: string, tag: string): string {
  return `${tagDir(name, tag)}/current/link`;
}

export function tagIndexDir(name: string, tag: string): string {
  return `${tagDir(name, tag)}/index`;
}

/** One entry of the tag's history: every digest it ever pointed to. */
export function tagIndexLinkPath(name: string, tag: string, digest: Digest): string {
  return `${tagIndexDir(name, tag)}/${algorithmOf(digest)}/${hexOf(digest)}/link`;
}

export function uploadsDir(name: string): string {
  return `${repositoryDir(name)}/_uploads`;
}

export function uploadDir(name: string, id: string): string {
  return `${uploadsDir(name)}/${id}`;
}

export function uploadDataPath(name: string, id: string): string {
  return `${uploadDir(name, id)}/data`;
}

export function uploadStartedAtPath(name: string, id: string): string {
  return `${uploadDir(name, id)}/startedat`;
}

export function uploadHashStatesDir(name: string, id: string, algorithm: Algorithm): string {
  return `${uploadDir(name, id)}/hashstates/${algorithm}`;
}

export function uploadHashStatePath(name: string, id: string, algorithm: Algorithm, offset: number): string {
  return `${uploadHashStatesDir(name, id, algorithm)}/${offset}`;
}

/** The pull-through cache's expiry schedule, at the driver root as in the reference. */
export const SCHEDULER_STATE_PATH = '/scheduler-state.json';
