/**
 * The built-in token server's signing key: `tokenserver.signingkey` (PEM text, or the path of a PEM
 * file), else `token-signing-key.pem` in the key directory, generated on first start (EC P-256,
 * written with mode 0600 in a 0700 directory; an existing file is never overwritten).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Configuration } from '../../config/index.js';
import { rfc7638KeyId } from '../token/key-ids.js';

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** JWS algorithm for this key: ES256/ES384/ES512, RS256 or EdDSA. */
  alg: string;
  /** RFC 7638 thumbprint, sent as the token's `kid`. */
  kid: string;
}

export const KEY_FILE = 'token-signing-key.pem';

function algorithmOf(key: KeyObject, source: string): string {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const alg = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' }[details.namedCurve ?? ''];
      if (!alg) throw new Error(`${source}: unsupported EC curve ${details.namedCurve} (use P-256, P-384 or P-521)`);
      return alg;
    }
    case 'rsa':
      if ((details.modulusLength ?? 0) < 2048) throw new Error(`${source}: RSA keys need at least 2048 bits`);
      return 'RS256';
    case 'ed25519':
      return 'EdDSA';
    default:
      throw new Error(`${source}: unsupported key type ${key.asymmetricKeyType} (use EC, RSA or Ed25519)`);
  }
}

async function fromPem(pem: string, source: string): Promise<SigningKey> {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (err) {
    throw new Error(`${source}: not a PEM private key: ${(err as Error).message}`, { cause: err });
  }
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, alg: algorithmOf(privateKey, source), kid: await rfc7638KeyId(publicKey) };
}

/** Where a generated key lives when `tokenserver.keydirectory` is not set. */
export function defaultKeyDirectory(config: Configuration): string {
  const driver = config.storage.driver;
  const root = driver.name === 'filesystem' ? (driver.parameters as { rootdirectory?: string }).rootdirectory : undefined;
  if (root) {
    const abs = resolve(root);
    return join(dirname(abs), `${basename(abs)}-keys`);
  }
  return resolve('data');
}

export async function loadSigningKey(config: Configuration, logger: Logger): Promise<SigningKey> {
  const configured = config.tokenserver.signingkey;
  if (configured) {
    if (configured.includes('-----BEGIN')) return fromPem(configured, 'tokenserver.signingkey');
    let pem: string;
    try {
      pem = await readFile(configured, 'utf8');
    } catch (err) {
      throw new Error(`tokenserver.signingkey: cannot read ${JSON.stringify(configured)}: ${(err as Error).message}`, { cause: err });
    }
    return fromPem(pem, `tokenserver.signingkey (${configured})`);
  }

  const dir = config.tokenserver.keydirectory ? resolve(config.tokenserver.keydirectory) : defaultKeyDirectory(config);
  const file = join(dir, KEY_FILE);
  const source = `tokenserver.keydirectory (${file})`;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    await writeFile(file, pem, { mode: 0o600, flag: 'wx' });
    await chmod(file, 0o600);
    logger.info({ file }, 'token server: generated a new signing key');
    return await fromPem(pem, source);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new Error(`${source}: cannot create the signing key: ${(err as Error).message}`, { cause: err });
    }
  }
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`${source}: cannot read the signing key: ${(err as Error).message}`, { cause: err });
  }
  const mode = (await stat(file)).mode & 0o777;
  if ((mode & 0o077) !== 0) logger.warn({ file, mode: mode.toString(8) }, 'token server: the signing key file is readable by other users; chmod 600 it');
  return fromPem(pem, source);
}
