import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Reads a file of PEM certificates (extra upstream roots) and checks each one parses. Throws the
 * read's system error as is, or an Error saying what is wrong with the content.
 */
export async function readPemCertificates(path: string): Promise<string> {
  const text = await readFile(path, 'utf8');
  const blocks = text.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new Error(`${path} holds no PEM certificate (no -----BEGIN CERTIFICATE----- block)`);
  blocks.forEach((block, i) => {
    try {
      new X509Certificate(block);
    } catch {
      throw new Error(`certificate ${i + 1} of ${blocks.length} in ${path} does not parse as X.509`);
    }
  });
  return text;
}
