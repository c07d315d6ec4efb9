// Test certificates made with openssl: a CA, a server certificate for 127.0.0.1 signed by it, and
// a self-signed key pair for signing registry tokens.
import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { tmpDir } from './skopeo.js'

const execFileP = promisify(execFile)
const openssl = (args: string[], cwd: string): Promise<unknown> =>
  execFileP('openssl', args, { cwd })

/** A self-signed RSA certificate `name.pem` with its key `name.key`, in `dir`. */
async function selfSigned(dir: string, name: string, subject: string): Promise<void> {
  await openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-subj',
      subject
    ],
    dir
  )
}

export interface TestCa {
  dir: string
  caCert: string
  serverCert: string
  serverKey: string
}

export async function makeTestCa(): Promise<TestCa> {
  const dir = await tmpDir('test-ca-')
  await selfSigned(dir, 'ca', '/CN=oci-layout test CA')
  await openssl(
    [
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
      '-subj',
      '/CN=127.0.0.1'
    ],
    dir
  )
  await writeFile(
    path.join(dir, 'ext.cnf'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n'
  )
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.pem',
      '-days',
      '2',
      '-extfile',
      'ext.cnf'
    ],
    dir
  )
  return {
    dir,
    caCert: path.join(dir, 'ca.pem'),
    serverCert: path.join(dir, 'server.pem'),
    serverKey: path.join(dir, 'server.key')
  }
}

/** A self-signed signing key for JWTs; the certificate goes into the registry's rootcertbundle. */
export async function makeSigningKey(): Promise<{ key: string; cert: string; certFile: string }> {
  const dir = await tmpDir('token-key-')
  await selfSigned(dir, 'token', '/CN=oci-layout test token issuer')
  return {
    key: await readFile(path.join(dir, 'token.key'), 'utf8'),
    cert: await readFile(path.join(dir, 'token.pem'), 'utf8'),
    certFile: path.join(dir, 'token.pem')
  }
}
