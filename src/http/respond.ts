/** Small response helpers shared by the handlers. */
import type { ServerResponse } from 'node:http';

export function sendJSON(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}, headOnly = false): void {
  const payload = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(payload.length), ...headers });
  res.end(headOnly ? undefined : payload);
}

export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Length': '0', ...headers });
  res.end();
}

/** Read a request body up to `limit` bytes; undefined when it is larger. */
export async function readBody(stream: AsyncIterable<Buffer>, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += chunk.length;
    if (total > limit) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

/** The quoted-digest ETag and the If-None-Match check. */
export function etagFor(digest: string): string {
  return `"${digest}"`;
}

export function notModified(ifNoneMatch: string | undefined, digest: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(',').some((v) => {
    const t = v.trim().replace(/^W\//, '');
    return t === '*' || t === `"${digest}"` || t === digest;
  });
}
