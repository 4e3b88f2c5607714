/**
 * Adversarial messages for the content-DoS audit, each paired with an ordinary one of the same size.
 * Every builder returns the message with CRLF line ends, no line over 998 octets (RFC 5321 §4.5.3.1.6).
 */
import { generateKeyPairSync } from 'node:crypto';
import { crc32, deflateRawSync } from 'node:zlib';
import { startTestDnsServer } from '../../src/dns/test-server.ts';

const CRLF = '\r\n';
const head = (extra = '', subject = 'Hello') =>
  [
    'From: Bob <bob@sender.example>',
    'To: alice@example.com',
    `Subject: ${subject}`,
    'Date: Sun, 29 Nov 2026 10:00:00 +0000',
    'Message-ID: <x1@sender.example>',
    'MIME-Version: 1.0',
    extra,
  ]
    .filter(Boolean)
    .join(CRLF);

const prose =
  'The quarterly report is attached below. Please review the figures before the meeting on Tuesday and send comments.';

/** The cases' sender domain on a loopback DNS server: SPF for 127.0.0.1, DMARC, a DKIM key record. */
export function startSenderDns(): ReturnType<typeof startTestDnsServer> {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicKey = rsa.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  return startTestDnsServer({
    records: {
      'sender.example': { A: ['192.0.2.80'], TXT: ['v=spf1 ip4:127.0.0.1 -all'] },
      '_dmarc.sender.example': { TXT: ['v=DMARC1; p=none'] },
      'sel._domainkey.sender.example': { TXT: [`v=DKIM1; k=rsa; p=${publicKey}`] },
    },
  });
}

/** An ordinary text/plain message of about `size` octets. */
export function ordinary(size: number): Buffer {
  const lines: string[] = [];
  let n = 0;
  let i = 0;
  while (n < size) {
    const l = `${prose} ${i++}`;
    lines.push(l);
    n += l.length + 2;
  }
  return Buffer.from(`${head('Content-Type: text/plain; charset=utf-8')}${CRLF}${CRLF}${lines.join(CRLF)}${CRLF}`);
}

function msg(headers: string, body: string): Buffer {
  return Buffer.from(`${headers}${CRLF}${CRLF}${body}${CRLF}`, 'utf8');
}

function wrap(text: string, width = 76): string {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += width) out.push(text.slice(i, i + width));
  return out.join(CRLF);
}

// --- a minimal ZIP writer (APPNOTE 4.3) -------------------------------------------------------
type ZipEntry = { name: string; data: Buffer; deflate?: boolean };
export function zip(entries: ZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const body = e.deflate ? deflateRawSync(e.data, { level: 9 }) : e.data;
    const crc = crc32(e.data) >>> 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(e.deflate ? 8 : 0, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(e.deflate ? 8 : 0, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(e.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Math.min(entries.length, 0xffff), 8);
  end.writeUInt16LE(Math.min(entries.length, 0xffff), 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

function attach(name: string, type: string, bytes: Buffer, text = 'See attached.'): Buffer {
  const b = 'b0undary';
  return msg(
    head(`Content-Type: multipart/mixed; boundary="${b}"`),
    [
      `--${b}`,
      'Content-Type: text/plain',
      '',
      text,
      `--${b}`,
      `Content-Type: ${type}; name="${name}"`,
      `Content-Disposition: attachment; filename="${name}"`,
      'Content-Transfer-Encoding: base64',
      '',
      wrap(bytes.toString('base64')),
      `--${b}--`,
    ].join(CRLF),
  );
}

// --- PDF -------------------------------------------------------------------------------------
function pdf(objects: string[]): Buffer {
  let out = '%PDF-1.7\n';
  const offsets: number[] = [];
  objects.forEach((o, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) out += `${String(o).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

function pdfStream(dict: string, data: Buffer): string {
  return `<< ${dict} /Length ${data.length} >>\nstream\n${data.toString('latin1')}\nendstream`;
}

const MB = 1024 * 1024;

export type Case = { name: string; what: string; build: () => Buffer };

export const cases: Case[] = [
  { name: 'ordinary-100k', what: 'baseline text 100 KB', build: () => ordinary(100 * 1024) },
  { name: 'ordinary-1m', what: 'baseline text 1 MB', build: () => ordinary(MB) },
  { name: 'ordinary-5m', what: 'baseline text 5 MB', build: () => ordinary(5 * MB) },
  { name: 'ordinary-20m', what: 'baseline text 20 MB', build: () => ordinary(20 * MB) },
  {
    name: 'headers-100k',
    what: '100,000 header fields (1 MB)',
    build: () => {
      const h: string[] = [];
      for (let i = 0; i < 100_000; i++) h.push(`X-H${i}: v`);
      return msg(`${head()}${CRLF}${h.join(CRLF)}`, 'hi');
    },
  },
  {
    name: 'received-100k',
    what: '100,000 Received fields (2.5 MB)',
    build: () => {
      const h: string[] = [];
      for (let i = 0; i < 100_000; i++) h.push(`Received: from a${i} by b; Sun, 29 Nov 2026`);
      return msg(`${h.join(CRLF)}${CRLF}${head()}`, 'hi');
    },
  },
  {
    name: 'folded-1m',
    what: 'one 1 MB folded Subject',
    build: () => {
      const lines: string[] = [];
      for (let i = 0; i < 14_000; i++) lines.push(` ${'word '.repeat(15)}`);
      return msg(head('', `x${CRLF}${lines.join(CRLF)}`), 'hi');
    },
  },
  {
    name: 'folded-1m-ew',
    what: 'one 1 MB Subject of encoded-words',
    build: () => {
      const lines: string[] = [];
      for (let i = 0; i < 30_000; i++) lines.push(` =?utf-8?q?a=D0=B1c?= =?utf-8?b?0LHQsQ==?=`);
      return msg(head('', `x${CRLF}${lines.join(CRLF)}`), 'hi');
    },
  },
  {
    name: 'from-50k',
    what: 'From with 50,000 addresses (1.3 MB)',
    build: () => {
      const a: string[] = [];
      for (let i = 0; i < 50_000; i++) a.push(` "N ${i}" <u${i}@s${i}.example>`);
      return msg(head().replace('From: Bob <bob@sender.example>', `From: ${a.join(`,${CRLF}`)}`), 'hi');
    },
  },
  {
    name: 'to-50k',
    what: 'To and Cc with 50,000 addresses each',
    build: () => {
      const a: string[] = [];
      for (let i = 0; i < 50_000; i++) a.push(` u${i}@s${i}.example`);
      return msg(
        `${head()}${CRLF}Cc: ${a.join(`,${CRLF}`)}`.replace('To: alice@example.com', `To: ${a.join(`,${CRLF}`)}`),
        'hi',
      );
    },
  },
  {
    name: 'from-comments',
    what: 'From with 300,000 nested comment parens (folded)',
    build: () => {
      const open = wrap('('.repeat(300_000), 70).split(CRLF).join(`${CRLF} `);
      const close = wrap(')'.repeat(300_000), 70).split(CRLF).join(`${CRLF} `);
      return msg(head().replace('From: Bob <bob@sender.example>', `From: ${open}${close} bob@sender.example`), 'hi');
    },
  },
  {
    name: 'from-quotes',
    what: 'From display name of 500,000 quoted-pairs and quotes',
    build: () => {
      const q = wrap('\\"'.repeat(250_000) + '" "'.repeat(100_000), 70)
        .split(CRLF)
        .join(`${CRLF} `);
      return msg(head().replace('From: Bob <bob@sender.example>', `From: "${q}" <bob@sender.example>`), 'hi');
    },
  },
  {
    name: 'from-angles',
    what: 'From of 300,000 "<" and "@"',
    build: () => {
      const q = wrap('<@'.repeat(300_000), 70).split(CRLF).join(`${CRLF} `);
      return msg(head().replace('From: Bob <bob@sender.example>', `From: ${q}`), 'hi');
    },
  },
  {
    name: 'dkim-5000',
    what: '5,000 DKIM-Signature fields, distinct selectors',
    build: () => {
      const h: string[] = [];
      for (let i = 0; i < 5000; i++)
        h.push(
          `DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=sender.example; s=s${i}; h=from:to:subject; bh=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=; b=AAAA`,
        );
      return msg(`${h.join(CRLF)}${CRLF}${head()}`, 'hi');
    },
  },
  {
    name: 'dkim-h-huge',
    what: '8 DKIM signatures, each h= naming "from" 20,000 times, with 20,000 From fields? no: h huge',
    build: () => {
      const h: string[] = [];
      const names = wrap(Array(20_000).fill('x-a').join(':'), 70).split(CRLF).join(`${CRLF} `);
      for (let i = 0; i < 8; i++)
        h.push(
          `DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=sender.example; s=sel; h=from:${names}; bh=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=; b=AAAA`,
        );
      const xa: string[] = [];
      for (let i = 0; i < 20_000; i++) xa.push('X-A: 1');
      return msg(`${h.join(CRLF)}${CRLF}${head()}${CRLF}${xa.join(CRLF)}`, 'hi');
    },
  },
  {
    name: 'dkim-l-body',
    what: '8 DKIM signatures with l= and simple body canonicalisation over a 5 MB body',
    build: () => {
      const h: string[] = [];
      for (let i = 0; i < 8; i++)
        h.push(
          `DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=sender.example; s=sel; l=${5_000_000 - i}; h=from:to:subject; bh=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=; b=AAAA`,
        );
      const body = ordinary(5 * MB)
        .toString('latin1')
        .split('\r\n\r\n')
        .slice(1)
        .join('\r\n\r\n');
      return msg(`${h.join(CRLF)}${CRLF}${head()}`, body);
    },
  },
  {
    name: 'arc-50',
    what: '50 ARC sets (i=1..50), bogus signatures',
    build: () => {
      const h: string[] = [];
      for (let i = 50; i >= 1; i--) {
        h.push(`ARC-Seal: i=${i}; a=rsa-sha256; cv=${i === 1 ? 'none' : 'pass'}; d=sender.example; s=sel; b=AAAA`);
        h.push(
          `ARC-Message-Signature: i=${i}; a=rsa-sha256; c=relaxed/relaxed; d=sender.example; s=sel; h=from:to; bh=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=; b=AAAA`,
        );
        h.push(`ARC-Authentication-Results: i=${i}; sender.example; dkim=pass`);
      }
      return msg(`${h.join(CRLF)}${CRLF}${head()}`, 'hi');
    },
  },
  {
    name: 'arc-5000',
    what: '5,000 ARC sets with duplicate instances, bogus signatures',
    build: () => {
      const h: string[] = [];
      for (let j = 0; j < 5000; j++) {
        const i = (j % 50) + 1;
        h.push(`ARC-Seal: i=${i}; a=rsa-sha256; cv=pass; d=sender.example; s=s${j}; b=AAAA`);
        h.push(
          `ARC-Message-Signature: i=${i}; a=rsa-sha256; c=relaxed/relaxed; d=sender.example; s=s${j}; h=from:to; bh=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=; b=AAAA`,
        );
        h.push(`ARC-Authentication-Results: i=${i}; sender.example; dkim=pass`);
      }
      return msg(`${h.join(CRLF)}${CRLF}${head()}`, 'hi');
    },
  },
  {
    name: 'ar-forged-100k',
    what: '100,000 Authentication-Results fields with our authserv-id and comments',
    build: () => {
      const h: string[] = [];
      for (let i = 0; i < 100_000; i++) h.push(`Authentication-Results: (c (d)) bench.example.com; spf=pass`);
      return msg(`${h.join(CRLF)}${CRLF}${head()}`, 'hi');
    },
  },
  {
    name: 'mime-deep-1000',
    what: 'multipart nested 1,000 deep',
    build: () => {
      let open = '';
      let close = '';
      for (let i = 0; i < 1000; i++) {
        open += `Content-Type: multipart/mixed; boundary="b${i}"${CRLF}${CRLF}--b${i}${CRLF}`;
        close = `${CRLF}--b${i}--${close}`;
      }
      return msg(head(), `${open}Content-Type: text/plain${CRLF}${CRLF}deep${close}`).subarray(0) as Buffer;
    },
  },
  {
    name: 'mime-rfc822-deep',
    what: 'message/rfc822 nested 1,000 deep',
    build: () => {
      let m = 'Content-Type: text/plain\r\n\r\nhello';
      for (let i = 0; i < 1000; i++) m = `Content-Type: message/rfc822\r\nSubject: l${i}\r\n\r\n${m}`;
      return msg(head(), m.replace(/^[\s\S]*?\r\n\r\n/, ''));
    },
  },
  {
    name: 'mime-parts-100k',
    what: '100,000 tiny parts',
    build: () => {
      const p: string[] = [];
      for (let i = 0; i < 100_000; i++) p.push(`--b${CRLF}${CRLF}x`);
      return msg(head('Content-Type: multipart/mixed; boundary="b"'), `${p.join(CRLF)}${CRLF}--b--`);
    },
  },
  {
    name: 'mime-parts-100k-hdr',
    what: '100,000 tiny parts, each with Content-Type and RFC 2231 name',
    build: () => {
      const p: string[] = [];
      for (let i = 0; i < 100_000; i++)
        p.push(`--b${CRLF}Content-Type: application/octet-stream; name*0=a; name*1=b${CRLF}${CRLF}x`);
      return msg(head('Content-Type: multipart/mixed; boundary="b"'), `${p.join(CRLF)}${CRLF}--b--`);
    },
  },
  {
    name: 'mime-prefix',
    what: '32 nested multiparts whose boundaries are prefixes of each other, 1 MB of fake delimiters',
    build: () => {
      let open = '';
      let close = '';
      for (let i = 1; i <= 31; i++) {
        const b = 'a'.repeat(i);
        open += `Content-Type: multipart/mixed; boundary="${b}"${CRLF}${CRLF}--${b}${CRLF}`;
        close = `${CRLF}--${b}--${close}`;
      }
      const junk: string[] = [];
      for (let i = 0; i < 40_000; i++) junk.push(`--${'a'.repeat(20)}x`);
      return msg(head(), `${open}Content-Type: text/plain${CRLF}${CRLF}${junk.join(CRLF)}${close}`);
    },
  },
  {
    name: 'mime-2231-50k',
    what: 'Content-Type with 50,000 RFC 2231 continuations',
    build: () => {
      const p: string[] = [];
      for (let i = 0; i < 50_000; i++) p.push(` name*${i}*=utf-8''%D0%B1`);
      return msg(head(`Content-Type: application/octet-stream;${CRLF}${p.join(`;${CRLF}`)}`), 'hi');
    },
  },
  {
    name: 'mime-params-50k',
    what: 'Content-Type with 50,000 distinct parameters',
    build: () => {
      const p: string[] = [];
      for (let i = 0; i < 50_000; i++) p.push(` p${i}="v"`);
      return msg(head(`Content-Type: text/plain;${CRLF}${p.join(`;${CRLF}`)}`), 'hi');
    },
  },
  {
    name: 'html-links-100k',
    what: 'HTML with 100,000 links (5 MB)',
    build: () => {
      const a: string[] = [];
      for (let i = 0; i < 100_000; i++) a.push(`<a href="http://h${i}.example.net/p">paypal.com ${i}</a>`);
      return msg(head('Content-Type: text/html'), `<html><body>${a.join(CRLF)}</body></html>`);
    },
  },
  {
    name: 'text-urls-100k',
    what: 'text with 100,000 URLs (4 MB)',
    build: () => {
      const a: string[] = [];
      for (let i = 0; i < 100_000; i++) a.push(`see http://h${i}.example.net/p now`);
      return msg(head('Content-Type: text/plain'), a.join(CRLF));
    },
  },
  {
    name: 'html-attr-1m',
    what: 'HTML with a 1 MB attribute value (folded QP)',
    build: () => {
      const v = `http://x/${'a'.repeat(MB)}`;
      const qp = (s: string) => wrap(s, 75).split(CRLF).join(`=${CRLF}`);
      return msg(
        head('Content-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable'),
        qp(`<html><body><a href=3D"${v}">paypal.com</a></body></html>`),
      );
    },
  },
  {
    name: 'html-unclosed-1m',
    what: 'HTML of 200,000 unclosed "<a href=" (1.6 MB)',
    build: () => msg(head('Content-Type: text/html'), wrap('<a href=x '.repeat(200_000), 900)),
  },
  {
    name: 'html-tables-deep',
    what: 'HTML with 100,000 nested tables (3 MB)',
    build: () =>
      msg(
        head('Content-Type: text/html'),
        wrap(`${'<table><tr><td>'.repeat(100_000)}x${'</td></tr></table>'.repeat(100_000)}`, 900),
      ),
  },
  {
    name: 'html-comment',
    what: 'HTML of 1 MB of "<!--" without close and entities',
    build: () => msg(head('Content-Type: text/html'), wrap('<!--&amp;&#x41;'.repeat(70_000), 900)),
  },
  {
    name: 'confusable-1m',
    what: 'text of 1 M mixed Latin/Cyrillic letters, words of 8',
    build: () => {
      const w = 'pаypаlо '; // Cyrillic а, о
      return msg(head('Content-Type: text/plain; charset=utf-8'), wrap(w.repeat(125_000), 400));
    },
  },
  {
    name: 'confusable-word',
    what: 'one 1 M-letter mixed-script word (folded by soft QP)',
    build: () => {
      const w = 'aа'.repeat(500_000);
      const enc = Buffer.from(w).toString('base64');
      return msg(head('Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64'), wrap(enc));
    },
  },
  {
    name: 'lexicon-words',
    what: 'text of 1 MB of lure words (password verify account urgent ...)',
    build: () =>
      msg(
        head('Content-Type: text/plain'),
        wrap('verify your password account urgent bank gift card пароль срочно '.repeat(16_000), 400),
      ),
  },
  {
    name: 'base64-junk',
    what: 'base64 text part, "=" after every quartet (4 MB)',
    build: () => {
      const q: string[] = [];
      for (let i = 0; i < 1_000_000; i++) q.push('QUJD=');
      return msg(head('Content-Type: text/plain\r\nContent-Transfer-Encoding: base64'), wrap(q.join(''), 76));
    },
  },
  {
    name: 'base64-dash',
    what: 'base64 text part, every other char "-" (4 MB)',
    build: () =>
      msg(head('Content-Type: text/plain\r\nContent-Transfer-Encoding: base64'), wrap('Q-'.repeat(2_000_000), 76)),
  },
  {
    name: 'qp-equals',
    what: 'quoted-printable of 4 MB of "=" and soft breaks',
    build: () =>
      msg(
        head('Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable'),
        wrap('=3D=\r\n'.repeat(600_000), 900),
      ),
  },
  {
    name: 'empty-lines-20m',
    what: '20 MB of empty lines (10 million)',
    build: () => msg(head('Content-Type: text/plain'), CRLF.repeat(10_000_000)),
  },
  {
    name: 'short-lines-20m',
    what: '20 MB of one-letter lines (6.7 million)',
    build: () => msg(head('Content-Type: text/plain'), `x${CRLF}`.repeat(6_666_666)),
  },
  {
    name: 'lines-998',
    what: '5 MB of 998-octet lines, one word each',
    build: () => {
      const l = 'a'.repeat(998);
      return msg(head('Content-Type: text/plain'), Array(5000).fill(l).join(CRLF));
    },
  },
  {
    name: 'lines-998-sp',
    what: '5 MB of 998-octet lines of spaces and dots',
    build: () => {
      const l = ' .'.repeat(499);
      return msg(head('Content-Type: text/plain'), Array(5000).fill(l).join(CRLF));
    },
  },
  {
    name: 'zip-ratio',
    what: 'ZIP of one 1 GB-zero file? no: 100 MB of zeros, deflated (~100 KB)',
    build: () =>
      attach('x.zip', 'application/zip', zip([{ name: 'a.txt', data: Buffer.alloc(100 * MB), deflate: true }])),
  },
  {
    name: 'zip-nested',
    what: 'ZIP of 100 nested ZIPs each holding a 10 MB-zero file',
    build: () => {
      const inner = zip([{ name: 'z.bin', data: Buffer.alloc(10 * MB), deflate: true }]);
      const outer: ZipEntry[] = [];
      for (let i = 0; i < 100; i++) outer.push({ name: `i${i}.zip`, data: inner });
      return attach('x.zip', 'application/zip', zip(outer));
    },
  },
  {
    name: 'zip-entries-65k',
    what: 'ZIP with 65,000 empty entries',
    build: () => {
      const e: ZipEntry[] = [];
      for (let i = 0; i < 65_000; i++) e.push({ name: `f${i}.txt`, data: Buffer.alloc(0) });
      return attach('x.zip', 'application/zip', zip(e));
    },
  },
  {
    name: 'zip-many-attach',
    what: '100 ZIP attachments of 1,000 entries each',
    build: () => {
      const e: ZipEntry[] = [];
      for (let i = 0; i < 1000; i++) e.push({ name: `f${i}.txt`, data: Buffer.alloc(0) });
      const z = wrap(zip(e).toString('base64'));
      const parts: string[] = [];
      for (let i = 0; i < 100; i++)
        parts.push(
          `--b${CRLF}Content-Type: application/zip; name="z${i}.zip"${CRLF}Content-Transfer-Encoding: base64${CRLF}${CRLF}${z}`,
        );
      return msg(head('Content-Type: multipart/mixed; boundary="b"'), `${parts.join(CRLF)}${CRLF}--b--`);
    },
  },
  {
    name: 'docx-huge-xml',
    what: 'DOCX with a 200 MB (deflated ~200 KB) document.xml',
    build: () =>
      attach(
        'x.docx',
        'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
        zip([
          { name: '[Content_Types].xml', data: Buffer.from('<Types/>'), deflate: true },
          { name: 'word/document.xml', data: Buffer.from('<w:t>a</w:t>'.repeat(16 * MB)), deflate: true },
        ]),
      ),
  },
  {
    name: 'pdf-objects',
    what: 'PDF with 200,000 tiny objects',
    build: () => {
      const o = ['<< /Type /Catalog /Pages 2 0 R >>', '<< /Type /Pages /Kids [] /Count 0 >>'];
      for (let i = 0; i < 200_000; i++) o.push(`<< /A ${i} >>`);
      return attach('x.pdf', 'application/pdf', pdf(o));
    },
  },
  {
    name: 'pdf-nest',
    what: 'PDF with an array nested 500,000 deep',
    build: () => {
      const o = ['<< /Type /Catalog /Pages 2 0 R >>', `${'['.repeat(500_000)}${']'.repeat(500_000)}`];
      return attach('x.pdf', 'application/pdf', pdf(o));
    },
  },
  {
    name: 'pdf-dict-nest',
    what: 'PDF with a dictionary nested 300,000 deep',
    build: () => {
      const o = ['<< /Type /Catalog /Pages 2 0 R >>', `${'<< /A '.repeat(300_000)}1${' >>'.repeat(300_000)}`];
      return attach('x.pdf', 'application/pdf', pdf(o));
    },
  },
  {
    name: 'pdf-flate-bombs',
    what: 'PDF with 500 FlateDecode streams of 100 MB zeros? (each ~100 KB)',
    build: () => {
      const z = deflateRawSync(Buffer.alloc(10 * MB));
      const zlibbed = Buffer.concat([Buffer.from([0x78, 0x9c]), z]);
      const o = ['<< /Type /Catalog /Pages 2 0 R >>', '<< /Type /Pages /Kids [] /Count 0 >>'];
      for (let i = 0; i < 200; i++) o.push(pdfStream('/Filter /FlateDecode', zlibbed));
      return attach('x.pdf', 'application/pdf', pdf(o));
    },
  },
  {
    name: 'pdf-text-ops',
    what: 'PDF page content of 1 MB of Tj operators',
    build: () => {
      const content = Buffer.from('BT /F1 12 Tf (a) Tj ( ) Tj T* '.repeat(34_000), 'latin1');
      const o = [
        '<< /Type /Catalog /Pages 2 0 R >>',
        '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
        '<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
        pdfStream('', content),
        '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
      ];
      return attach('x.pdf', 'application/pdf', pdf(o));
    },
  },
  {
    name: 'pdf-strings',
    what: 'PDF of 1 MB of nested parentheses in a string',
    build: () => {
      const o = ['<< /Type /Catalog /Pages 2 0 R >>', `(${'('.repeat(500_000)}${')'.repeat(500_000)})`];
      return attach('x.pdf', 'application/pdf', pdf(o));
    },
  },
  {
    name: 'many-attach-names',
    what: '5,000 attachments with long double-extension names and bidi',
    build: () => {
      const parts: string[] = [];
      for (let i = 0; i < 5000; i++)
        parts.push(
          `--b${CRLF}Content-Type: application/octet-stream; name="${'invoice'.repeat(20)}${i}.pdf${' '.repeat(50)}.exe"${CRLF}${CRLF}MZ`,
        );
      return msg(head('Content-Type: multipart/mixed; boundary="b"'), `${parts.join(CRLF)}${CRLF}--b--`);
    },
  },
];
