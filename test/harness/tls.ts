import { execFile } from 'node:child_process';
import { mkdir, writeFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';

export interface TestCerts {
  /** CA certificate (PEM) that signed serverCert and clientCert. */
  caCert: string;
  /** Server certificate (PEM), CN=localhost, SAN IP:127.0.0.1 + DNS:localhost, EKU serverAuth. */
  serverCert: string;
  /** Server private key, unencrypted PKCS#8 PEM ("BEGIN PRIVATE KEY"), RSA 2048. */
  serverKey: string;
  /** Client certificate (PEM), CN=test-client, EKU clientAuth. */
  clientCert: string;
  /** Client private key, unencrypted PKCS#8 PEM, RSA 2048. */
  clientKey: string;
  /** A self-signed CA that signed nothing here: trusting only it must make verification fail. */
  wrongCaCert: string;
}

function openssl(args: string[], cwd: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    execFile('openssl', args, { cwd, timeout: 30_000 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`openssl ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolvePromise();
    });
  });
}

// Self-contained openssl configs so the result does not depend on the distribution's openssl.cnf.
const CA_CNF = `[req]
distinguished_name = dn
prompt = no
x509_extensions = v3_ca
[dn]
CN = @CN@
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
`;

const REQ_CNF = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = @CN@
`;

const SERVER_EXT = `basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
`;

const CLIENT_EXT = `basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
`;

/**
 * Generate a throwaway PKI in `dir` with the `openssl` CLI and return absolute file paths.
 * Regenerates every time (about a second); files are overwritten.
 */
export async function makeTestCerts(dir: string): Promise<TestCerts> {
  const d = resolve(dir);
  await mkdir(d, { recursive: true });
  const p = (name: string) => join(d, name);
  const days = '3650';
  const newKey = (file: string) =>
    openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', file], d);

  const makeCa = async (base: string, cn: string) => {
    await writeFile(p(`${base}.cnf`), CA_CNF.replace('@CN@', cn));
    await newKey(p(`${base}-key.pem`));
    await openssl(['req', '-config', p(`${base}.cnf`), '-new', '-x509', '-sha256', '-days', days,
      '-key', p(`${base}-key.pem`), '-out', p(`${base}.pem`)], d);
  };

  const makeLeaf = async (base: string, cn: string, ext: string) => {
    await writeFile(p(`${base}-req.cnf`), REQ_CNF.replace('@CN@', cn));
    await writeFile(p(`${base}.ext`), ext);
    await newKey(p(`${base}-key.pem`));
    await openssl(['req', '-config', p(`${base}-req.cnf`), '-new', '-sha256',
      '-key', p(`${base}-key.pem`), '-out', p(`${base}.csr`)], d);
    await openssl(['x509', '-req', '-sha256', '-days', days, '-in', p(`${base}.csr`),
      '-CA', p('ca.pem'), '-CAkey', p('ca-key.pem'), '-CAcreateserial', '-CAserial', p('ca.srl'),
      '-extfile', p(`${base}.ext`), '-out', p(`${base}.pem`)], d);
    await rm(p(`${base}.csr`), { force: true });
  };

  await Promise.all([
    makeCa('ca', 'kafka-audit-proxy test CA'),
    makeCa('wrong-ca', 'unrelated test CA'),
  ]);
  // Sequential: both leaves share ca.srl.
  await makeLeaf('server', 'localhost', SERVER_EXT);
  await makeLeaf('client', 'test-client', CLIENT_EXT);

  return {
    caCert: p('ca.pem'),
    serverCert: p('server.pem'),
    serverKey: p('server-key.pem'),
    clientCert: p('client.pem'),
    clientKey: p('client-key.pem'),
    wrongCaCert: p('wrong-ca.pem'),
  };
}
