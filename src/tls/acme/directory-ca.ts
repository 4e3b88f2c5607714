/**
 * `tls.acme.directoryCa`: the CA certificate(s), PEM, to trust for the ACME directory's HTTPS (a private
 * CA, pebble). Read and parsed at start, by `serve` and `postern check` alike: a file that holds no
 * certificate had been taken silently, and every order then failed after a minute of the ACME client's
 * retries with Node's "self-signed certificate" and its unrelated hint.
 */
import { X509Certificate } from 'node:crypto';
import { readRegularFile } from '../../config/read-config-file.ts';
import { AcmeSetupError } from './setup-error.ts';

/** The file's text, after checking that it holds at least one certificate and nothing unreadable. */
export async function readDirectoryCa(file: string): Promise<string> {
  let text: string;
  try {
    text = (await readRegularFile(file)).toString('utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new AcmeSetupError(`tls.acme.directoryCa: cannot read ${file}: ${code}`, { cause: error });
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) {
    throw new AcmeSetupError(`tls.acme.directoryCa: ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  for (const [index, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (error) {
      throw new AcmeSetupError(`tls.acme.directoryCa: certificate ${index + 1} in ${file} cannot be read`, {
        cause: error,
      });
    }
  }
  return text;
}
