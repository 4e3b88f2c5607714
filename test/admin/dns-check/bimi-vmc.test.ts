/**
 * The BIMI VMC check (a= of the record) on loopback: a test Mark Verifying Authority (ECDSA P-256, made
 * here with @peculiar/x509) issues VMCs with the logotype extension (RFC 3709) holding the logo, the BIMI
 * extended key usage and a subjectAltName; an HTTPS server with a test CA's certificate serves them and the
 * logo at bimi.example.com; the test DNS server publishes the record. Only the `bimi` area is judged here.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes, webcrypto } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import * as x509 from '@peculiar/x509';
import { createHttpsFetch } from '../../../src/admin/dns-check/https-fetch.ts';
import type { Check } from '../../../src/admin/dns-check/report.ts';
import { runDnsCheck } from '../../../src/admin/dns-check/run.ts';
import { parseConfig } from '../../../src/config/load.ts';
import { createResolver } from '../../../src/dns/system-resolver.ts';
import { startTestDnsServer, type TestDnsServer, type TestZone } from '../../../src/dns/test-server.ts';
import { createTestCa } from '../../support/test-ca.ts';
import { configInput, DOMAIN, GOOD_LOGO, HOST } from './fixture.ts';

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;
const LOGOTYPE_OID = '1.3.6.1.5.5.7.1.12';
const BIMI_EKU = '1.3.6.1.5.5.7.3.31';
const LOGO_URL = 'https://bimi.example.com/logo.svg';
const VMC_URL = 'https://bimi.example.com/vmc.pem';

interface Authority {
  cert: x509.X509Certificate;
  keys: webcrypto.CryptoKeyPair;
}

interface VmcOptions {
  names?: string[];
  notBefore?: Date;
  notAfter?: Date;
  /** The SVG in the logotype extension; false: no extension. */
  logo?: string | false;
  eku?: boolean;
  issuer?: Authority;
  /** The SVG whose hash the logotype carries; default the embedded logo's own. */
  hashOf?: string;
}

let mva: Authority; // the Mark Verifying Authority's root
let intermediate: Authority;
let dns: TestDnsServer;
let web: https.Server;
let webPort: number;
let tlsCa: string;
const served: { logo: string; vmc: string; vmcStatus: number } = { logo: GOOD_LOGO, vmc: '', vmcStatus: 200 };

before(async () => {
  mva = await authority('Test Mark Verifying Authority Root');
  intermediate = await authority('Test Mark Verifying Authority Issuing CA', mva);
  const tls = await createTestCa();
  tlsCa = tls.ca;
  const site = await tls.issue(['bimi.example.com']);
  web = https.createServer({ cert: site.cert, key: site.key }, (request, response) => {
    if (request.url === '/logo.svg') {
      response.writeHead(200, { 'content-type': 'image/svg+xml' });
      response.end(served.logo);
    } else if (request.url === '/vmc.pem') {
      response.writeHead(served.vmcStatus, { 'content-type': 'application/x-pem-file' });
      response.end(served.vmc);
    } else {
      response.writeHead(404);
      response.end();
    }
  });
  await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
  webPort = (web.address() as AddressInfo).port;
  dns = await startTestDnsServer(zone());
});

after(async () => {
  await dns?.close();
  web?.closeAllConnections();
  await new Promise((resolve) => web?.close(resolve));
});

function zone(edit?: (z: TestZone) => void): TestZone {
  const z: TestZone = {
    records: {
      [DOMAIN]: { MX: [{ priority: 10, exchange: HOST }] },
      [HOST]: { A: ['192.0.2.1'] },
      'default._bimi.example.com': { TXT: [`v=BIMI1; l=${LOGO_URL}; a=${VMC_URL}`] },
      'bimi.example.com': { A: ['127.0.0.1'] },
      // BIMI draft §3: no logo without an enforced DMARC policy.
      '_dmarc.example.com': { TXT: ['v=DMARC1; p=quarantine'] },
    },
  };
  edit?.(z);
  return z;
}

/** The bimi checks of a run with the VMC (and the rest) as given. */
async function bimi(setup: {
  vmc: string;
  vmcStatus?: number;
  logo?: string;
  zone?: (z: TestZone) => void;
  roots?: string[] | null;
}): Promise<Check[]> {
  served.vmc = setup.vmc;
  served.vmcStatus = setup.vmcStatus ?? 200;
  served.logo = setup.logo ?? GOOD_LOGO;
  dns.setZone(zone(setup.zone));
  const config = parseConfig({ ...configInput(), dns: { servers: [dns.server], timeoutMs: 500, tries: 1 } }, 'test');
  const resolver = createResolver({ servers: [dns.server], timeoutMs: 500, tries: 1, cacheTtlMs: 0 });
  const checks = await runDnsCheck(DOMAIN, {
    config,
    resolver,
    store: { listDkimKeys: async () => [] },
    probe: false,
    fetch: createHttpsFetch({ resolver, ca: [tlsCa], port: webPort, timeoutMs: 3000 }),
    caa: async () => ({ ok: false, error: 'nodata' }),
    dnssec: async () => 'signed',
    ...(setup.roots === null ? {} : { vmcRoots: setup.roots ?? [mva.cert.toString('pem')] }),
  });
  return checks.filter((c) => c.area === 'bimi');
}

function vmcCheck(checks: Check[]): Check {
  const found = checks.find((c) => c.id === 'bimi.vmc');
  assert.ok(found, `no bimi.vmc check in ${JSON.stringify(checks)}`);
  return found;
}

/** The VMC file an MVA hands out: the VMC, then its issuing CA (the root stays out, as usual). */
async function vmcPem(options: VmcOptions = {}): Promise<string> {
  const issuer = options.issuer ?? intermediate;
  const leaf = await issueVmc(options, issuer);
  const chain = issuer === mva ? [leaf] : [leaf, issuer.cert];
  return chain.map((c) => c.toString('pem')).join('\n');
}

test('a good VMC passes: names the domain, in date, logotype and EKU, chained to the MVA, same logo as l=', async () => {
  const checks = await bimi({ vmc: await vmcPem() });
  assert.deepEqual(
    checks.map((c) => [c.id, c.status]),
    [
      ['bimi.record', 'pass'],
      ['bimi.dmarc', 'pass'],
      ['bimi.logo', 'pass'],
      ['bimi.vmc', 'pass'],
    ],
    JSON.stringify(checks),
  );
  assert.match(vmcCheck(checks).summary, /names example\.com, .* chains to Test Mark Verifying Authority Root/);
});

test('a VMC issued straight by the root, the chain being the VMC alone, passes too', async () => {
  const check = vmcCheck(await bimi({ vmc: await vmcPem({ issuer: mva }) }));
  assert.equal(check.status, 'pass', check.summary);
});

test('a VMC for the selector name <selector>._bimi.<domain> passes', async () => {
  const check = vmcCheck(await bimi({ vmc: await vmcPem({ names: ['default._bimi.example.com'] }) }));
  assert.equal(check.status, 'pass', check.summary);
});

test('an expired VMC fails', async () => {
  const vmc = await vmcPem({ notBefore: new Date(Date.now() - 400 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS) });
  const check = vmcCheck(await bimi({ vmc }));
  assert.equal(check.status, 'fail');
  assert.match(check.summary, /^the VMC expired on \d{4}-\d\d-\d\d/);
  assert.match(check.fix ?? '', /Renew/);
});

test('a VMC expiring within 14 days warns', async () => {
  const check = vmcCheck(await bimi({ vmc: await vmcPem({ notAfter: new Date(Date.now() + 10 * DAY_MS) }) }));
  assert.equal(check.status, 'warn', check.summary);
  assert.match(check.summary, /expires on .*, in (9|10) days/);
});

test('a VMC for another domain fails', async () => {
  const check = vmcCheck(await bimi({ vmc: await vmcPem({ names: ['other.example'] }) }));
  assert.equal(check.status, 'fail');
  assert.match(check.summary, /^the VMC is for other\.example, not example\.com/);
  assert.match(check.fix ?? '', /subjectAltName/);
});

test('a certificate without the logotype extension fails', async () => {
  const check = vmcCheck(await bimi({ vmc: await vmcPem({ logo: false }) }));
  assert.equal(check.status, 'fail');
  assert.match(check.summary, /no logotype extension \(RFC 3709, 1\.3\.6\.1\.5\.5\.7\.1\.12\)/);
  assert.match(check.fix ?? '', /Mark Verifying Authority issued/);
});

test('a certificate without the BIMI extended key usage fails', async () => {
  const check = vmcCheck(await bimi({ vmc: await vmcPem({ eku: false }) }));
  assert.equal(check.status, 'fail');
  assert.match(check.summary, /lacks the BIMI extended key usage \(1\.3\.6\.1\.5\.5\.7\.3\.31\)/);
});

test('a VMC from an authority not among the roots fails, naming the roots known', async () => {
  const other = await authority('Someone Else');
  const check = vmcCheck(await bimi({ vmc: await vmcPem({ issuer: other }) }));
  assert.equal(check.status, 'fail');
  assert.match(
    check.summary,
    /does not chain to a Mark Verifying Authority root known here \(Test Mark Verifying Authority Root\)/,
  );
});

test("without injected roots, mailauth's MVA list is used (and a test VMC is not on it)", async () => {
  const check = vmcCheck(await bimi({ vmc: await vmcPem(), roots: null }));
  assert.equal(check.status, 'fail');
  assert.match(check.summary, /DigiCert Verified Mark Root CA/);
});

test('a chain whose issuer certificate did not sign the VMC fails (signatures are checked, not only names)', async () => {
  // Same name as the real issuing CA, another key: names match, the signature does not.
  const impostor = await authority('Test Mark Verifying Authority Issuing CA', mva);
  const leaf = await issueVmc({}, intermediate);
  const vmc = [leaf, impostor.cert].map((c) => c.toString('pem')).join('\n');
  const check = vmcCheck(await bimi({ vmc }));
  assert.equal(check.status, 'fail');
  assert.match(check.summary, /chain is broken/);
});

test('a logo at l= other than the one in the VMC fails', async () => {
  const other = GOOD_LOGO.replace('#2a6', '#a26');
  const check = vmcCheck(await bimi({ vmc: await vmcPem(), logo: other }));
  assert.equal(check.status, 'fail', check.summary);
  assert.match(check.summary, /is not the one inside the VMC/);
});

test('a VMC whose logo is not SVG Tiny PS fails', async () => {
  const full = GOOD_LOGO.replace('tiny-ps', 'full');
  const check = vmcCheck(await bimi({ vmc: await vmcPem({ logo: full }), logo: full }));
  assert.equal(check.status, 'fail');
  assert.match(check.summary, /^the logo inside the VMC is not SVG Tiny PS/);
});

test('a VMC whose logo does not match its own hash fails', async () => {
  const check = vmcCheck(await bimi({ vmc: await vmcPem({ hashOf: 'something else' }) }));
  assert.equal(check.status, 'fail');
  assert.match(check.summary, /does not match the hash the VMC gives for it/);
});

test('a file that is not PEM fails', async () => {
  const check = vmcCheck(await bimi({ vmc: '<html>not here</html>' }));
  assert.equal(check.status, 'fail');
  assert.match(check.summary, /is not a PEM certificate chain/);
});

test('HTTP 404 for the VMC fails', async () => {
  const check = vmcCheck(await bimi({ vmc: '', vmcStatus: 404 }));
  assert.equal(check.status, 'fail');
  assert.match(check.summary, /answers HTTP 404/);
});

test('an unreachable VMC host (DNS timeout) warns', async () => {
  const check = vmcCheck(
    await bimi({
      vmc: await vmcPem(),
      zone: (z) => {
        z.records['default._bimi.example.com'] = { TXT: [`v=BIMI1; l=${LOGO_URL}; a=https://vmc.example.com/vmc.pem`] };
        z.timeout = ['vmc.example.com'];
      },
    }),
  );
  assert.equal(check.status, 'warn', check.summary);
  assert.match(check.summary, /^could not fetch the VMC/);
});

async function authority(name: string, issuer?: Authority): Promise<Authority> {
  const keys = await generate();
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 3 * 365 * DAY_MS);
  const extensions = [
    new x509.BasicConstraintsExtension(true, issuer ? 0 : 1, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  const cert = issuer
    ? await x509.X509CertificateGenerator.create({
        serialNumber: serial(),
        subject: `CN=${name}`,
        issuer: issuer.cert.subject,
        notBefore,
        notAfter,
        signingAlgorithm: ALGORITHM,
        publicKey: keys.publicKey,
        signingKey: issuer.keys.privateKey,
        extensions: [...extensions, await x509.AuthorityKeyIdentifierExtension.create(issuer.cert)],
      })
    : await x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: serial(),
        name: `CN=${name}`,
        notBefore,
        notAfter,
        signingAlgorithm: ALGORITHM,
        keys,
        extensions,
      });
  return { cert, keys };
}

async function issueVmc(options: VmcOptions, issuer: Authority): Promise<x509.X509Certificate> {
  const keys = await generate();
  const logo = options.logo ?? GOOD_LOGO;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.SubjectAlternativeNameExtension((options.names ?? [DOMAIN]).map((value) => ({ type: 'dns', value }))),
    await x509.AuthorityKeyIdentifierExtension.create(issuer.cert),
  ];
  if (options.eku !== false) extensions.push(new x509.ExtendedKeyUsageExtension([BIMI_EKU]));
  if (logo !== false) extensions.push(new x509.Extension(LOGOTYPE_OID, false, logotype(logo, options.hashOf)));
  return x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: 'CN=Example Inc., O=Example Inc.',
    issuer: issuer.cert.subject,
    notBefore: options.notBefore ?? new Date(Date.now() - 60_000),
    notAfter: options.notAfter ?? new Date(Date.now() + 365 * DAY_MS),
    signingAlgorithm: ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: issuer.keys.privateKey,
    extensions,
  });
}

/**
 * RFC 3709 §4.1 LogotypeExtn, DER by hand (the module is IMPLICIT TAGS): subjectLogo [2] EXPLICIT, the
 * `direct` [0] LogotypeData holding one image: media type, SHA-256 of the SVG, and the SVG gzipped in a
 * data: URL, as MVAs embed it.
 */
function logotype(svg: string, hashOf = svg): Buffer {
  const uri = `data:image/svg+xml;base64,${gzipSync(svg).toString('base64')}`;
  const sha256 = Buffer.from('608648016503040201', 'hex'); // 2.16.840.1.101.3.4.2.1
  const details = der(
    0x30,
    der(0x16, Buffer.from('image/svg+xml')), // mediaType IA5String
    der(
      0x30,
      der(0x30, der(0x30, der(0x06, sha256), der(0x05)), der(0x04, createHash('sha256').update(hashOf).digest())),
    ),
    der(0x30, der(0x16, Buffer.from(uri))), // logotypeURI
  );
  const image = der(0x30, details); // LogotypeImage
  const direct = der(0xa0, der(0x30, image)); // [0] IMPLICIT LogotypeData { image SEQUENCE OF LogotypeImage }
  return der(0x30, der(0xa2, direct));
}

/** X.690 §8.1: tag, definite length (short or long form), contents. */
function der(tag: number, ...contents: Buffer[]): Buffer {
  const body = Buffer.concat(contents);
  let length: Buffer;
  if (body.length < 0x80) length = Buffer.from([body.length]);
  else {
    const bytes: number[] = [];
    for (let n = body.length; n > 0; n >>= 8) bytes.unshift(n & 0xff);
    length = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), length, body]);
}

async function generate(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01; // RFC 5280 §4.1.2.2: positive, no leading zero octet
  return bytes.toString('hex');
}

test('BIMI under DMARC p=none (or quarantine at pct below 100, or no DMARC) is a warning: receivers show no logo then', async () => {
  const vmc = await vmcPem();
  for (const [record, expected] of [
    ['v=DMARC1; p=none', /DMARC is p=none: receivers show a BIMI logo only/],
    // mailauth's checkDmarcRecord: pct matters for quarantine only; p=reject at pct=50 is enforced.
    ['v=DMARC1; p=quarantine; pct=50', /DMARC of example\.com is p=quarantine pct=50/],
    [undefined, /there is no DMARC record/],
  ] as const) {
    const checks = await bimi({
      vmc,
      zone: (z) => {
        if (record === undefined) delete z.records['_dmarc.example.com'];
        else z.records['_dmarc.example.com'] = { TXT: [record] };
      },
    });
    const dmarc = checks.find((c) => c.id === 'bimi.dmarc');
    assert.equal(dmarc?.status, 'warn', JSON.stringify(checks));
    assert.match(dmarc.summary, expected);
  }
});
