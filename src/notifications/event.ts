/**
 * The notification event, in the reference's wire format (what distribution 2.x sends as
 * `application/vnd.docker.distribution.events.v1+json`). Field names, nesting and the order of
 * keys follow what docker-registry 2.8 emits, so receivers written for it read ours unchanged:
 *
 *   { "events": [ { id, timestamp, action, target, request, actor, source }, ... ] }
 *
 * Empty optional fields are left out, as the reference does with `omitempty`; `actor` and
 * `source` are always present as objects (`"actor": {}` for anonymous requests).
 */

/** The envelope's Content-Type. The reference moved to `.v2+json` in 3.x; 2.x receivers expect v1. */
export const EVENTS_MEDIA_TYPE = 'application/vnd.docker.distribution.events.v1+json';

export const EVENT_ACTIONS = ['push', 'pull', 'mount', 'delete'] as const;
export type EventAction = (typeof EVENT_ACTIONS)[number];

/** A descriptor as events carry it in `target.references`. */
export interface ReferenceDescriptor {
  mediaType: string;
  size: number;
  digest: string;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: unknown;
  artifactType?: string;
}

export interface EventTarget {
  mediaType?: string;
  size?: number;
  digest?: string;
  /** Same as size; kept by the reference for older receivers. */
  length?: number;
  repository?: string;
  /** Mounts only: the repository the blob came from. */
  fromRepository?: string;
  /** Where the content can be fetched (by digest). */
  url?: string;
  tag?: string;
  /** Only with `notifications.events.includereferences`. */
  references?: ReferenceDescriptor[];
}

export interface RequestRecord {
  id: string;
  /** Client address: X-Forwarded-For / X-Real-Ip when they hold an IP, else the peer `ip:port`. */
  addr?: string;
  /** The Host header the client used. */
  host?: string;
  method: string;
  useragent: string;
}

export interface ActorRecord {
  /** The authenticated user, when there is one. */
  name?: string;
}

export interface SourceRecord {
  /** `hostname:port` of this instance. */
  addr?: string;
  /** Changes at every start of the process. */
  instanceID?: string;
}

export interface Event {
  id: string;
  /** RFC 3339, UTC. */
  timestamp: string;
  action: EventAction;
  target: EventTarget;
  request: RequestRecord;
  actor: ActorRecord;
  source: SourceRecord;
}

/** The JSON body of one delivery, built from events already serialised one by one. */
export function envelope(serialisedEvents: readonly string[]): string {
  return `{"events":[${serialisedEvents.join(',')}]}`;
}
