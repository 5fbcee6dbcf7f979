// Certificates for the token tests, made with the openssl command line: a root CA, an
// intermediate CA, a leaf signed by the intermediate, a self-signed RSA signer (trusted by its key
// ID), and a rogue CA nobody trusts.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';

export interface Cert {
  pem: string;
  key: KeyObject;
  /** Base64 DER, as in an x5c header. */
  der64: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function load(dir: string, name: string): Cert {
  const pem = readFileSync(join(dir, `${name}.crt`), 'utf8');
  return { pem, key: createPrivateKey(readFileSync(join(dir, `${name}.key`))), der64: new X509Certificate(pem).raw.toString('base64') };
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];

function selfSigned(dir: string, name: string, keyArgs: string[], ca: boolean): Cert {
  const ext = ca ? ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'] : [];
  openssl(['req', '-x509', ...keyArgs, '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-subj', `/CN=${name}`, '-days', '3', ...ext], dir);
  return load(dir, name);
}

function signed(dir: string, name: string, issuer: string, ca: boolean): Cert {
  openssl(['req', '-new', ...EC, '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
  writeFileSync(join(dir, `${name}.ext`), ca ? 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' : 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n');
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.crt`, '-CAkey', `${issuer}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '3', '-extfile', `${name}.ext`], dir);
  return load(dir, name);
}

export interface TestPki {
  root: Cert;
  intermediate: Cert;
  leaf: Cert;
  signer: Cert;
  rogueRoot: Cert;
  rogueLeaf: Cert;
  /** root + signer, the file auth.token.rootcertbundle points at. */
  bundlePath: string;
}

export function makePki(dir: string): TestPki {
  const root = selfSigned(dir, 'root', EC, true);
  const intermediate = signed(dir, 'intermediate', 'root', true);
  const leaf = signed(dir, 'leaf', 'intermediate', false);
  const signer = selfSigned(dir, 'signer', ['-newkey', 'rsa:2048'], false);
  const rogueRoot = selfSigned(dir, 'rogue', EC, true);
  const rogueLeaf = signed(dir, 'rogueleaf', 'rogue', false);
  const bundlePath = join(dir, 'bundle.pem');
  writeFileSync(bundlePath, root.pem + signer.pem);
  return { root, intermediate, leaf, signer, rogueRoot, rogueLeaf, bundlePath };
}
