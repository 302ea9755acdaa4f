// A throwaway certificate authority for HTTPS tests, made with the system's openssl:
// a CA, and leaf certificates for 127.0.0.1 / localhost signed by it. Everything lives
// in one temporary folder, removed by close() (or when the test process exits).
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeTempDir, tempDir } from './proxy.js';

/** A certificate and its key, as files. */
export interface CertFiles {
  cert: string;
  key: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

export class TestCa {
  readonly dir = tempDir('rs-tls-');
  /** The CA certificate (PEM), for a client's `ca` option. */
  readonly pem: Buffer;
  private serial = 0;

  constructor() {
    openssl(['req', '-x509', ...EC_KEY, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '30', '-subj', '/CN=restreamer test CA'], this.dir);
    this.pem = readFileSync(join(this.dir, 'ca.pem'));
  }

  /**
   * A leaf certificate for 127.0.0.1 and localhost, named `cn`, valid for `days` from now
   * (negative: already expired). Its files are `<name>.pem` and `<name>.key`.
   */
  issue(name: string, opts: { cn?: string; days?: number } = {}): CertFiles {
    const n = ++this.serial;
    writeFileSync(join(this.dir, `${name}.ext`), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    openssl(['req', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${opts.cn ?? name}`], this.dir);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', String(n),
      '-out', `${name}.pem`, '-days', String(opts.days ?? 10), '-extfile', `${name}.ext`], this.dir);
    return { cert: join(this.dir, `${name}.pem`), key: join(this.dir, `${name}.key`) };
  }

  /** Copy `from`'s files over `to`'s (a certificate rotation, as certbot does it). */
  install(from: CertFiles, to: CertFiles): void {
    copyFileSync(from.cert, to.cert);
    copyFileSync(from.key, to.key);
  }

  close(): void {
    removeTempDir(this.dir);
  }
}
