/** The request and source parts of an event, derived the way the reference derives them. */
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import type { IncomingMessage } from 'node:http';
import type { RequestContext } from '../http/context.js';
import { headerValue } from '../http/context.js';
import type { RequestRecord, SourceRecord } from './event.js';

/**
 * The client's address: the first X-Forwarded-For entry, then X-Real-Ip, when either is a valid
 * IP; otherwise the peer as Go prints RemoteAddr (`ip:port`, IPv6 in brackets).
 */
export function remoteAddr(req: IncomingMessage): string | undefined {
  const forwarded = headerValue(req.headers['x-forwarded-for'])?.split(',')[0]?.trim();
  if (forwarded && isIP(forwarded)) return forwarded;
  const realIP = headerValue(req.headers['x-real-ip'])?.trim();
  if (realIP && isIP(realIP)) return realIP;
  const ip = req.socket.remoteAddress;
  if (!ip) return undefined;
  const port = req.socket.remotePort;
  const host = isIP(ip) === 6 ? `[${ip}]` : ip;
  return port === undefined ? host : `${host}:${port}`;
}

export function requestRecord(ctx: RequestContext): RequestRecord {
  const addr = remoteAddr(ctx.req);
  const host = ctx.req.headers.host;
  // The reference's key order: id, addr, host, method, useragent.
  return {
    id: ctx.id,
    ...(addr ? { addr } : {}),
    ...(host ? { host } : {}),
    method: ctx.method,
    useragent: headerValue(ctx.req.headers['user-agent']) ?? '',
  };
}

/**
 * This instance as the reference names it: the machine's hostname with the port of `http.addr`
 * (the whole `http.addr` when it has no port, e.g. a unix socket path).
 */
export function sourceAddr(httpAddr: string, port?: number): string {
  const host = hostname();
  if (port !== undefined && port > 0) return `${host}:${port}`;
  const m = /:(\d+)$/.exec(httpAddr);
  return m ? `${host}:${m[1]}` : httpAddr || host;
}

export function sourceRecord(addr: string, instanceID: string): SourceRecord {
  return { addr, instanceID };
}
