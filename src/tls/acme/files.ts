import path from 'node:path';

/** Where a hostname's certificate, key and failure record live: `<dataDir>/tls/acme/<hostname>.*`. */
export function acmeFiles(
  dataDir: string,
  hostname: string,
): { certPath: string; keyPath: string; failuresPath: string } {
  const base = path.join(dataDir, 'tls', 'acme', hostname.toLowerCase());
  return { certPath: `${base}.crt`, keyPath: `${base}.key`, failuresPath: `${base}.failures.json` };
}
