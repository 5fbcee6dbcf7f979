/**
 * Turns what happened to a repository during one request into events, and hands them to the sink.
 * The listener (listener.ts) decides *when* something happened; this file decides what the event
 * says: target fields in the reference's order, the request, actor and source records.
 */
import { randomUUID } from 'node:crypto';
import type { Descriptor } from '../distribution/types.js';
import type { RequestContext } from '../http/context.js';
import { parseManifest } from '../manifest/manifest.js';
import type { ActorRecord, Event, EventAction, EventTarget, ReferenceDescriptor, RequestRecord, SourceRecord } from './event.js';
import { requestRecord } from './records.js';

export type EventSink = (event: Event) => void;

/** Shared by every request of the process. */
export interface BridgeOptions {
  sink: EventSink;
  /** Read at each event: the port may only be known once the listener is up. */
  source: () => SourceRecord;
  includeReferences: boolean;
}

/** What a manifest event needs to know about the manifest. */
export interface ManifestFacts {
  digest: string;
  mediaType: string;
  content: Buffer;
}

export class RequestBridge {
  private request?: RequestRecord;

  constructor(
    private readonly opts: BridgeOptions,
    private readonly ctx: RequestContext,
  ) {}

  manifestPushed(repository: string, manifest: ManifestFacts, tag?: string): void {
    this.write('push', this.manifestTarget(repository, manifest, tag));
  }

  manifestPulled(repository: string, manifest: ManifestFacts, tag?: string): void {
    this.write('pull', this.manifestTarget(repository, manifest, tag));
  }

  manifestDeleted(repository: string, digest: string): void {
    this.write('delete', { digest, repository });
  }

  blobPushed(repository: string, desc: Descriptor): void {
    this.write('push', this.blobTarget(repository, desc));
  }

  blobPulled(repository: string, desc: Descriptor): void {
    this.write('pull', this.blobTarget(repository, desc));
  }

  blobMounted(repository: string, desc: Descriptor, fromRepository: string): void {
    this.write('mount', this.blobTarget(repository, desc, fromRepository));
  }

  blobDeleted(repository: string, digest: string): void {
    this.write('delete', { digest, repository });
  }

  tagDeleted(repository: string, tag: string): void {
    this.write('delete', { repository, tag });
  }

  private manifestTarget(repository: string, m: ManifestFacts, tag: string | undefined): EventTarget {
    const target: EventTarget = {
      mediaType: m.mediaType,
      size: m.content.length,
      digest: m.digest,
      length: m.content.length,
      repository,
      url: this.ctx.url(`/v2/${repository}/manifests/${m.digest}`),
    };
    if (tag) target.tag = tag;
    if (this.opts.includeReferences) {
      const refs = references(m);
      if (refs.length > 0) target.references = refs;
    }
    return target;
  }

  private blobTarget(repository: string, desc: Descriptor, fromRepository?: string): EventTarget {
    return {
      mediaType: desc.mediaType,
      size: desc.size,
      digest: desc.digest,
      length: desc.size,
      repository,
      ...(fromRepository ? { fromRepository } : {}),
      url: this.ctx.url(`/v2/${repository}/blobs/${desc.digest}`),
    };
  }

  private write(action: EventAction, target: EventTarget): void {
    this.request ??= requestRecord(this.ctx);
    const actor: ActorRecord = this.ctx.user ? { name: this.ctx.user } : {};
    this.opts.sink({
      id: randomUUID(),
      timestamp: new Date().toISOString(),
      action,
      target,
      request: this.request,
      actor,
      source: this.opts.source(),
    });
  }
}

/** What the manifest points at: config and layers of an image, children of an index. */
function references(m: ManifestFacts): ReferenceDescriptor[] {
  let parsed;
  try {
    parsed = parseManifest(m.content, m.mediaType);
  } catch {
    return [];
  }
  const list = parsed.kind === 'index' ? parsed.manifests : [parsed.config, ...parsed.layers];
  return list.map((d) => {
    const out: ReferenceDescriptor = { mediaType: d.mediaType, size: d.size, digest: d.digest };
    if (d.urls) out.urls = d.urls;
    if (d.annotations) out.annotations = d.annotations;
    if (d.platform) out.platform = d.platform;
    if (d.artifactType) out.artifactType = d.artifactType;
    return out;
  });
}
