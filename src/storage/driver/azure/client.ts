/**
 * The Azure SDK objects the driver talks through: a ContainerClient on a pipeline with the
 * configured retry policy, an HTTP agent that abandons silent connections, and SAS signing.
 *
 * Timeouts: the SDK's retry policy only forwards a per-try timeout to the server (`timeout=`);
 * nothing on the client side notices a connection that stops answering. So every socket gets an
 * idle timer: when it fires during a request the socket is destroyed with ETIMEDOUT, which the
 * SDK's retry policy treats as retryable (and a download in progress resumes from its offset).
 * Idle rather than total time, so a long download of a big blob is never cut off while it flows.
 */
import { Agent as HttpAgent, type AgentOptions } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  BlobSASPermissions,
  ContainerClient,
  SASProtocol,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
  newPipeline,
  type StoragePipelineOptions,
} from '@azure/storage-blob';
import type { AzureDriverOptions } from './options.js';

const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
/** How long a redirect URL stays valid, as in the reference. */
export const SAS_LIFETIME_MS = 20 * 60_000;
/** Backdate the SAS start so a server clock slightly behind ours accepts it. */
const SAS_CLOCK_SKEW_MS = 5 * 60_000;

type CreateConnection = (options: object, callback?: (err: Error | null, socket: Duplex) => void) => Duplex | undefined;

/** Destroy a socket that stays silent while a request uses it; a free pooled socket is just closed. */
function armIdleTimeout(socket: Duplex | undefined, idleMs: number): void {
  if (!socket) return;
  (socket as Socket).on('timeout', () => {
    const err = Object.assign(new Error(`azure: no response data for ${idleMs} ms`), { code: 'ETIMEDOUT' });
    socket.destroy(err);
  });
}

function makeAgent(https: boolean, idleMs: number, skipVerify: boolean): HttpAgent {
  const options: AgentOptions & { rejectUnauthorized?: boolean } = { keepAlive: true, timeout: idleMs };
  if (https && skipVerify) options.rejectUnauthorized = false;
  const agent = https ? new HttpsAgent(options) : new HttpAgent(options);
  const base = (agent as unknown as { createConnection: CreateConnection }).createConnection.bind(agent);
  (agent as unknown as { createConnection: CreateConnection }).createConnection = (opts, callback) => {
    const socket = base(opts, callback);
    armIdleTimeout(socket, idleMs);
    return socket;
  };
  return agent;
}

export interface AzureClient {
  container: ContainerClient;
  credential: StorageSharedKeyCredential;
  /** Whether the endpoint is plain HTTP (an emulator): SAS URLs must then allow http. */
  insecure: boolean;
  agent: HttpAgent;
}

export function createAzureClient(o: AzureDriverOptions): AzureClient {
  const credential = new StorageSharedKeyCredential(o.accountName, o.accountKey);
  const insecure = o.serviceURL.startsWith('http:');
  const agent = makeAgent(!insecure, o.tryTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS, o.skipVerify);
  const pipelineOptions: StoragePipelineOptions & { agent: HttpAgent } = {
    retryOptions: {
      maxTries: o.maxRetries + 1,
      retryDelayInMs: o.retryDelayMs,
      maxRetryDelayInMs: o.maxRetryDelayMs,
      // The server takes whole seconds.
      tryTimeoutInMs: o.tryTimeoutMs === undefined ? undefined : Math.max(1000, o.tryTimeoutMs),
    },
    userAgentOptions: { userAgentPrefix: 'berth' },
    // Not in StoragePipelineOptions' type, but handed to the core pipeline, which installs it.
    agent,
  };
  const pipeline = newPipeline(credential, pipelineOptions);
  const container = new ContainerClient(`${o.serviceURL}/${o.container}`, pipeline);
  return { container, credential, insecure, agent };
}

/** A read-only SAS URL for one blob, valid for SAS_LIFETIME_MS from `now`. */
export function signedReadURL(client: AzureClient, blobName: string, now = Date.now()): string {
  const sas = generateBlobSASQueryParameters(
    {
      containerName: client.container.containerName,
      blobName,
      permissions: BlobSASPermissions.parse('r'),
      startsOn: new Date(now - SAS_CLOCK_SKEW_MS),
      expiresOn: new Date(now + SAS_LIFETIME_MS),
      protocol: client.insecure ? SASProtocol.HttpsAndHttp : SASProtocol.Https,
    },
    client.credential,
  );
  return `${client.container.getBlobClient(blobName).url}?${sas.toString()}`;
}
