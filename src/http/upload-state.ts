/**
 * The `_state` query parameter of upload URLs: name, id, offset and start time, signed with
 * `http.secret` (HMAC-SHA256) so that any instance sharing the secret can continue the upload and
 * nobody can point a URL at someone else's upload.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface UploadStateData {
  name: string;
  uuid: string;
  offset: number;
  startedAt: string;
}

const MAC_LENGTH = 32;

export class UploadState {
  constructor(private readonly secret: string) {
    if (!secret) throw new Error('upload state needs a secret');
  }

  pack(state: UploadStateData): string {
    const json = Buffer.from(JSON.stringify({ Name: state.name, UUID: state.uuid, Offset: state.offset, StartedAt: state.startedAt }));
    const mac = createHmac('sha256', this.secret).update(json).digest();
    return Buffer.concat([mac, json]).toString('base64url');
  }

  /** The state, or undefined when the token is malformed or its signature is wrong. */
  unpack(token: string): UploadStateData | undefined {
    let raw: Buffer;
    try {
      raw = Buffer.from(token, 'base64url');
    } catch {
      return undefined;
    }
    if (raw.length <= MAC_LENGTH) return undefined;
    const mac = raw.subarray(0, MAC_LENGTH);
    const json = raw.subarray(MAC_LENGTH);
    const expected = createHmac('sha256', this.secret).update(json).digest();
    if (!timingSafeEqual(mac, expected)) return undefined;
    try {
      const parsed = JSON.parse(json.toString('utf8')) as Record<string, unknown>;
      if (typeof parsed.Name !== 'string' || typeof parsed.UUID !== 'string' || typeof parsed.Offset !== 'number') return undefined;
      return { name: parsed.Name, uuid: parsed.UUID, offset: parsed.Offset, startedAt: String(parsed.StartedAt ?? '') };
    } catch {
      return undefined;
    }
  }
}
