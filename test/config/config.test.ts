import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig, parseConfig, splitHostPort } from '../../src/config/load.ts';
import { defaultHostname } from '../../src/config/schema.ts';
import { settingWarnings } from '../../src/config/setting-warnings.ts';
import { redactUrl } from '../../src/store/postgres/url.ts';

test('embedded defaults: secure and complete', () => {
  const config = parseConfig({}, 'test');
  assert.equal(config.listen.smtp, '127.0.0.1:2525', 'loopback only until the admin opens it');
  assert.equal(config.smtp.vrfy, 'off');
  assert.equal(config.smtp.bareLineEndings, 'reject');
  assert.equal(config.dataDir, './data');
  assert.deepEqual(config.domains, [config.hostname], 'like Postfix mydestination = $myhostname');
});

test('the default hostname is fully qualified (an unqualified OS name gets .localdomain)', () => {
  const name = defaultHostname();
  assert.ok(name.includes('.'), name);
  assert.ok(name.startsWith(os.hostname().toLowerCase()));
  assert.equal(defaultHostname('mailhost'), 'mailhost.localdomain');
  assert.equal(defaultHostname('MX.Example.com'), 'mx.example.com');
});

test('listen hosts: addresses and names serve can bind', () => {
  for (const smtp of [
    '0.0.0.0:25',
    '[::]:25',
    '[::1]:2525',
    'localhost:2525',
    'mx.example.com:25',
    'mx.example.com.:25',
  ]) {
    assert.equal(parseConfig({ listen: { smtp } }, 'test').listen.smtp, smtp);
  }
});

test('a hostname with digits is a host name as long as its last label is not all digits (RFC 1123 §2.1)', () => {
  for (const hostname of ['mx1.example.com', '203-0-113-25.example.net', '25.example.org']) {
    assert.equal(parseConfig({ hostname }, 'test').hostname, hostname);
  }
});

test('internationalized domain names: a U-label is taken and kept as its A-label, as user add stores addresses', () => {
  // Before, `domains: [bücher.example]` was refused as "expected a domain name" while `postern user add
  // bob@bücher.example` took the address (storing the A-label): the admin could not list the domain.
  const config = parseConfig(
    { hostname: 'MX.Bücher.example', domains: ['bücher.example', 'XN--MNCHEN-3YA.de', 'straße.de'] },
    'test',
  );
  assert.deepEqual(config.domains, ['xn--bcher-kva.example', 'xn--mnchen-3ya.de', 'xn--strae-oqa.de']);
  assert.equal(config.hostname, 'mx.xn--bcher-kva.example');
});

const invalid: [raw: unknown, mustSay: RegExp][] = [
  // An A-label no U-label gives (RFC 5891 §5.4): no one could write to it.
  [{ domains: ['xn--zz.example'] }, /domains\.0: "xn--zz\.example" is invalid: "xn--zz" is not a valid IDN A-label/],
  [{ domains: ['bü/cher.example'] }, /domains\.0: "bü\/cher\.example" is invalid: expected a domain name/],
  [{ listen: { smtp: 'nonsense' } }, /listen\.smtp: "nonsense" is invalid: expected host:port/],
  [{ listen: { smtp: '127.0.0.1:99999' } }, /listen\.smtp: .*port must be 0-65535/],
  [
    { dns: { servers: ['127.0.0.1'] } },
    /dns\.servers\.0: "127\.0\.0\.1" is invalid: expected host:port, e\.g\. 127\.0\.0\.1:53/,
  ],
  // RFC 3986 §3.2.2: brackets hold an IPv6 literal; these reached getaddrinfo as names and serve died.
  [
    { listen: { smtp: '[:::]:25' } },
    /listen\.smtp: "\[:::\]:25" is invalid: the part in brackets must be an IPv6 address/,
  ],
  [
    { listen: { smtp: '[1.2.3.4]:25' } },
    /listen\.smtp: "\[1\.2\.3\.4\]:25" is invalid: the part in brackets must be an IPv6/,
  ],
  // "*" (nginx's every address) and IPv4 shorthand passed check, then serve died on getaddrinfo.
  [
    { listen: { smtp: '*:25' } },
    /listen\.smtp: "\*:25" is invalid: the host must be an IP address or a host name: 0\.0\.0\.0 or \[::\]/,
  ],
  [{ listen: { submission: '127.1:587' } }, /listen\.submission: "127\.1:587" is invalid: the host must be/],
  [{ mtaSts: { listen: 'mta_sts:443' } }, /mtaSts\.listen: "mta_sts:443" is invalid: the host must be/],
  // Timers and dates: past these, Node fires at once (the tarpit was off) or a time is no date (every
  // failed login a store error, no one blocked).
  [{ tarpit: { stepMs: 3e9 } }, /tarpit\.stepMs: 3000000000 is invalid: at most 60000 ms/],
  [{ tarpit: { stepMs: 60_001 } }, /tarpit\.stepMs: 60001 is invalid: at most 60000 ms \(RFC 5321 §4\.5\.3\.2/],
  [{ tarpit: { maxMs: 3e9 } }, /tarpit\.maxMs: 3000000000 is invalid: at most 60000 ms/],
  [{ auth: { blockMinutes: 999999999999 } }, /auth\.blockMinutes: 999999999999 is invalid: at most 525600/],
  [{ auth: { failureWindowMinutes: 10 ** 9 } }, /auth\.failureWindowMinutes: 1000000000 is invalid: at most 525600/],
  [{ greylisting: { expireDays: 200000000000 } }, /greylisting\.expireDays: 200000000000 is invalid: at most 3650/],
  [{ domains: ['not a domain'] }, /domains\.0: "not a domain" is invalid: expected a domain name/],
  // RFC 6890: published as A/AAAA, these name no host.
  [{ serverAddresses: ['0.0.0.0'] }, /serverAddresses\.0: "0\.0\.0\.0" is invalid: the unspecified address/],
  [{ serverAddresses: ['::'] }, /serverAddresses\.0: "::" is invalid: the unspecified address/],
  [{ serverAddresses: ['224.0.0.1'] }, /serverAddresses\.0: "224\.0\.0\.1" is invalid: .*multicast/],
  // RFC 5321 §4.1.3, §5.1: EHLO and MX name the host; an address-shaped name is neither (RFC 1123 §2.1).
  [{ hostname: '203.0.113.25' }, /hostname: "203\.0\.113\.25" is invalid: must be a host name, not an IP address/],
  [{ hostname: 'mail.123' }, /hostname: "mail\.123" is invalid: must be a host name, not an IP address/],
  // RFC 5321 §2.3.5: a single label is no domain for mail; before, check passed it and `user add` refused it.
  [{ hostname: 'mx' }, /hostname: "mx" is invalid: expected a fully-qualified host name/],
  [{ domains: ['localhost'] }, /domains\.0: "localhost" is invalid: expected a fully-qualified domain name/],
  [{ domains: ['example.com', 'mail.123'] }, /domains\.1: "mail\.123" is invalid: expected a fully-qualified/],
  // Checked when the config is read, as mynetworks is; before, only serve's start found it.
  [
    { limits: { exceptions: ['bogus'] } },
    /limits\.exceptions\.0: "bogus" is invalid: expected an IP address or network/,
  ],
  // YAML's .inf: JSON would have shown it as null.
  [{ smtp: { maxMessageSize: Number.POSITIVE_INFINITY } }, /smtp\.maxMessageSize: Infinity is invalid/],
  [
    { tls: { acme: { directory: 'http://acme.example/dir', termsOfServiceAgreed: true } } },
    /tls\.acme\.directory: "http:\/\/acme\.example\/dir" is invalid: expected the https URL of the CA's directory/,
  ],
  // Two listeners on one socket: the second could never bind.
  [
    { listen: { smtp: '127.0.0.1:2525', submission: '127.0.0.1:2525' } },
    /listen\.smtp and listen\.submission both take 127\.0\.0\.1:2525: one port serves one listener/,
  ],
  [
    { listen: { smtp: '[::]:25', submissions: '127.0.0.1:25' } },
    /listen\.smtp and listen\.submissions take \[::\]:25 and 127\.0\.0\.1:25, the same port/,
  ],
  [
    { listen: { smtp: '127.0.0.1:2525' }, mtaSts: { listen: '0.0.0.0:2525' } },
    /listen\.smtp and mtaSts\.listen take 127\.0\.0\.1:2525 and 0\.0\.0\.0:2525, the same port/,
  ],
  // Never an open relay: trusting the whole Internet (or much of it) is refused, not just allowed.
  // ::ffff:0:0/96 is matched as IPv4 0.0.0.0/0 (src/policy/cidr.ts): as wide as it.
  ...['0.0.0.0/0', '::/0', '[::]/0', '128.0.0.0/1', '2000::/3', '::ffff:0.0.0.0/96', '[::ffff:0:0]/97'].map(
    (net): [unknown, RegExp] => [
      { mynetworks: ['127.0.0.0/8', net] },
      /mynetworks\.1: .* is invalid: a network this wide .* an open relay/,
    ],
  ),
  [{ smtp: { maxRecipients: 0 } }, /smtp\.maxRecipients: 0 is invalid/],
  [{ smtp: { bareLineEndings: 'accept' } }, /smtp\.bareLineEndings: "accept" is invalid/],
  [{ hostnam: 'x.example.com' }, /unknown key "hostnam"/],
  [{ smtp: { maxSize: 1 } }, /unknown key "maxSize" under smtp/],
  // One listener cannot answer tls-alpn-01 and serve the MTA-STS policy: both keys named, and the way out.
  ...['0.0.0.0:443', '127.0.0.1:443'].map((mtaSts): [unknown, RegExp] => [
    {
      mtaSts: { listen: mtaSts },
      tls: {
        acme: {
          directory: 'https://acme.example/dir',
          email: 'postmaster@example.com',
          termsOfServiceAgreed: true,
          tlsAlpn01: { listen: '127.0.0.1:443' },
        },
      },
    },
    /tls\.acme\.tlsAlpn01\.listen and mtaSts\.listen both take 127\.0\.0\.1:443: .*use tls\.acme\.http01/,
  ]),
];
for (const [raw, mustSay] of invalid) {
  test(`invalid: ${JSON.stringify(raw)} names the key, the value and the fix`, () => {
    assert.throws(
      () => parseConfig(raw, 'postern.yaml'),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, mustSay);
        assert.match(err.message, /^postern\.yaml: invalid configuration/);
        return true;
      },
    );
  });
}

test('a file: --config wins over POSTERN_CONFIG; a relative dataDir is taken from the file folder', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-config-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const a = path.join(dir, 'a.yaml');
  const b = path.join(dir, 'b.yaml');
  fs.writeFileSync(a, 'hostname: a.example.com\ndataDir: spool\n');
  fs.writeFileSync(b, 'hostname: b.example.com\n');
  assert.equal(loadConfig(a, { POSTERN_CONFIG: b }).config.hostname, 'a.example.com');
  assert.equal(loadConfig(undefined, { POSTERN_CONFIG: b }).config.hostname, 'b.example.com');
  assert.equal(loadConfig(a, {}).config.dataDir, path.join(dir, 'spool'));
  assert.throws(() => loadConfig(path.join(dir, 'missing.yaml'), {}), /missing\.yaml does not exist/);
  // A link is there: "does not exist" sent the admin looking for a file they can see with ls.
  const loop = path.join(dir, 'loop.yaml');
  fs.symlinkSync(loop, loop);
  assert.throws(() => loadConfig(loop, {}), {
    message: `config file ${loop} is a symbolic link in a loop of symbolic links (ELOOP)`,
  });
  const dangling = path.join(dir, 'dangling.yaml');
  fs.symlinkSync('moved.yaml', dangling);
  assert.throws(() => loadConfig(dangling, {}), {
    message: `config file ${dangling} is a symbolic link to moved.yaml, which leads nowhere`,
  });
  fs.writeFileSync(b, 'hostname: [unclosed\n');
  assert.throws(() => loadConfig(b, {}), /not valid YAML at line/);
});

test('a dataDir under /proc, /sys or /dev, as written or through a link, is refused at load naming the key and the value', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-config-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'postern.yaml');
  const load = (dataDir: string) => {
    fs.writeFileSync(file, `hostname: mx.example.com\ndataDir: ${JSON.stringify(dataDir)}\n`);
    return () => loadConfig(file, {});
  };
  for (const [dataDir, tree] of [
    ['/proc/postern', '/proc'],
    ['/proc', '/proc'],
    ['/sys/fs/postern/data', '/sys'],
    ['/dev/shm/postern', '/dev'],
    ['/var/../proc/x', '/proc'],
  ]) {
    assert.throws(
      load(dataDir!),
      (err: ConfigError) => {
        assert.equal(err.source, file);
        assert.equal(err.problems.length, 1, err.message);
        assert.match(
          err.problems[0]!,
          new RegExp(`^dataDir: ${JSON.stringify(dataDir).replaceAll('/', '\\/').replaceAll('.', '\\.')}`),
        );
        assert.ok(
          err.problems[0]!.includes(` is under ${tree}, one of the kernel's file systems, not storage`),
          err.message,
        );
        assert.match(err.problems[0]!, /choose a directory on a disk, such as \/var\/lib\/postern$/);
        return true;
      },
      dataDir,
    );
  }
  // A relative dataDir is the config folder's; a link there into /proc is followed.
  fs.symlinkSync('/proc', path.join(dir, 'kernel'));
  assert.throws(
    load('kernel/postern'),
    /dataDir: "kernel\/postern" \(\/proc\/postern, through a symbolic link\) is under \/proc/,
  );
  // Names that only begin like those trees are fine, as is a directory not made yet.
  for (const dataDir of ['/procmail/data', '/device/data', 'data', path.join(dir, 'a/b/c')]) {
    assert.doesNotThrow(load(dataDir), dataDir);
  }
});

test('a key written twice is named whole, a colon inside a plain or quoted key included', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-config-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'postern.yaml');
  const named = (yaml: string) => {
    fs.writeFileSync(file, yaml);
    try {
      loadConfig(file, {});
    } catch (err) {
      return /: (the key .+|a key) appears twice/.exec((err as Error).message)?.[1];
    }
    return 'no error';
  };
  assert.equal(named('limits:\n  maxRecipients: 5\n  maxRecipients: 7\n'), 'the key "maxRecipients"');
  // YAML 1.2 §7.3.3: a colon not followed by white space belongs to a plain scalar.
  assert.equal(named('aliases:\n  a:b@example.com: x\n  a:b@example.com: y\n'), 'the key "a:b@example.com"');
  assert.equal(named('aliases:\n  "a: b": x\n  "a: b": y\n'), 'the key "a: b"');
  assert.equal(named('limits: {maxRecipients: 5, maxRecipients: 7}\n'), 'the key "maxRecipients"');
});

test('every relative file path is taken from the config file folder, wherever the server starts', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-config-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'postern.yaml');
  fs.writeFileSync(
    file,
    [
      'hostname: mx.example.com',
      'filter: { headerChecks: rules/header_checks, bodyChecks: /etc/postern/body_checks }',
      'tls: { certificates: [{ cert: tls/mx.crt, key: tls/mx.key }], acme: { directory: "https://127.0.0.1:14000/dir", termsOfServiceAgreed: true, http01: { listen: "127.0.0.1:8080" }, directoryCa: ca.pem } }',
      'restrictions: { sender: [{ rule: check_sender_access, file: maps/senders }], client: ["warn_if_reject check_client_access maps/clients", reject_unknown_client_hostname] }',
    ].join('\n'),
  );
  const { config } = loadConfig(file, {});
  assert.equal(config.filter.headerChecks, path.join(dir, 'rules/header_checks'));
  assert.equal(config.filter.bodyChecks, '/etc/postern/body_checks', 'an absolute path stays');
  assert.deepEqual(config.tls.certificates, [
    { cert: path.join(dir, 'tls/mx.crt'), key: path.join(dir, 'tls/mx.key') },
  ]);
  assert.equal(config.tls.acme?.directoryCa, path.join(dir, 'ca.pem'));
  assert.deepEqual(config.restrictions.sender, [{ rule: 'check_sender_access', file: path.join(dir, 'maps/senders') }]);
  assert.deepEqual(config.restrictions.client, [
    `warn_if_reject check_client_access ${path.join(dir, 'maps/clients')}`,
    'reject_unknown_client_hostname',
  ]);
});

test('host:port splitting, IPv6 in brackets', () => {
  assert.deepEqual(splitHostPort('127.0.0.1:2525'), { host: '127.0.0.1', port: 2525 });
  assert.deepEqual(splitHostPort('[::1]:25'), { host: '::1', port: 25 });
});

test('store: SQLite by default; PostgreSQL needs a postgres:// URL; a bad URL is shown without its password', () => {
  assert.deepEqual(parseConfig({}, 'test').store, { engine: 'sqlite' });
  assert.deepEqual(
    parseConfig({ store: { engine: 'postgres', url: 'postgres://db.example.com/postern' } }, 'test').store,
    {
      engine: 'postgres',
      url: 'postgres://db.example.com/postern',
      poolSize: 10,
    },
  );
  assert.throws(
    () => parseConfig({ store: { engine: 'postgres' } }, 'postern.yaml'),
    /store\.url is missing: store\.engine: postgres needs the database URL/,
  );
  assert.throws(() => parseConfig({ store: { engine: 'mysql' } }, 'postern.yaml'), /store\.engine: "mysql" is invalid/);
  assert.throws(
    () => parseConfig({ store: { engine: 'postgres', url: 'mysql://u:hunter2@db/x' } }, 'postern.yaml'),
    (error: Error) => {
      assert.match(error.message, /store\.url: "mysql:\/\/u:\*\*\*@db\/x" is invalid: expected a PostgreSQL URL/);
      assert.doesNotMatch(error.message, /hunter2/);
      return true;
    },
  );
  assert.throws(
    () => parseConfig({ store: { engine: 'sqlite', url: 'postgres://x/y' } }, 'postern.yaml'),
    /store\.url applies to store\.engine: postgres only/,
  );
});

test('an invalid store URL is named in the error without its password, whatever form it takes', () => {
  const leaks: unknown[] = [
    'postgres://postern:s3cret pass@db.example.com/postern', // a space in the password
    ['postgres://postern:s3cret@db.example.com/postern'], // a list where a string was expected
    'host=db.example.com user=postern password=s3cret dbname=postern', // libpq key=value form
    { host: 'db.example.com', password: 's3cret' }, // an object
    'postern:s3cret@127.0.0.1:5432/postern', // no scheme
    'postgres:/postern:s3cret@127.0.0.1:5432/postern', // one slash
    'postgres:postern:s3cret@127.0.0.1:5432/postern', // none
    'postern:p@s3cret@127.0.0.1:5432/postern', // an "@" in the password
    'mysql://u:p@s3cret@db/x',
  ];
  for (const url of leaks) {
    assert.throws(
      () => parseConfig({ store: { engine: 'postgres', url } }, 'test'),
      (error: Error) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /store\.url: .* is invalid/);
        assert.doesNotMatch(error.message, /s3cret/, error.message);
        return true;
      },
      JSON.stringify(url),
    );
  }
});

test('serverAddresses: each an IP address, or the start stops naming it', () => {
  assert.deepEqual(parseConfig({ serverAddresses: ['203.0.113.25', '2001:db8::25'] }, 'test').serverAddresses, [
    '203.0.113.25',
    '2001:db8::25',
  ]);
  // RFC 5952 §4: kept in the one text form dns records, dns check and the logs write (before: as written).
  assert.deepEqual(parseConfig({ serverAddresses: ['2001:DB8:0:0::25'] }, 'test').serverAddresses, ['2001:db8::25']);
  for (const bad of ['203.0.113.256', 'mx.example.com']) {
    assert.throws(
      () => parseConfig({ serverAddresses: [bad] }, 'postern.yaml'),
      new RegExp(`serverAddresses\\.0: "${bad.replace(/\./g, '\\.')}" is invalid: expected an IP address`),
    );
  }
  // RFC 4007 §11 and RFC 4291 §2.5.5.2: neither can be published as this server's address.
  assert.throws(
    () => parseConfig({ serverAddresses: ['fe80::1%eth0'] }, 'postern.yaml'),
    /serverAddresses\.0: "fe80::1%eth0" is invalid: a zone ID \(%…\) is local to this host/,
  );
  for (const mapped of ['::ffff:203.0.113.25', '0:0:0:0:0:ffff:203.0.113.25', '::ffff:cb00:7119']) {
    assert.throws(
      () => parseConfig({ serverAddresses: [mapped] }, 'postern.yaml'),
      /serverAddresses\.0: ".*" is invalid: an IPv4-mapped address: write the IPv4 address itself/,
      mapped,
    );
  }
});

test('a mailto: address in an invalid value is shown as written: only URL passwords are hidden', () => {
  assert.throws(
    () => parseConfig({ publish: { dmarcRua: 'mailto:dmarc@example.com;x' } }, 'postern.yaml'),
    /publish\.dmarcRua: "mailto:dmarc@example\.com;x" is invalid/,
  );
});

test('values a running server could not use are refused at start, naming the key', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [
      { dns: { servers: ['localhost:53'] } },
      /dns\.servers\.0: "localhost:53" is invalid: expected an IP address and port/,
    ],
    [{ dnsCheckIntervalMinutes: 43_200 }, /dnsCheckIntervalMinutes: 43200 is invalid/],
    [{ smtp: { shutdownGraceMs: 2 ** 31 } }, /smtp\.shutdownGraceMs: 2147483648 is invalid: at most 2147483647 ms/],
    [
      { filter: { milters: [{ socket: 'inet:99999@127.0.0.1' }] } },
      /filter\.milters\.0\.socket: "inet:99999@127\.0\.0\.1" is invalid: the port must be 1-65535/,
    ],
  ];
  for (const [input, want] of cases)
    assert.throws(() => parseConfig(input, 'postern.yaml'), want, JSON.stringify(input));
  assert.deepEqual(parseConfig({ dns: { servers: ['127.0.0.1:53', '[::1]:53'] } }, 'test').dns.servers, [
    '127.0.0.1:53',
    '[::1]:53',
  ]);
});

test('mynetworks: addresses and networks, checked by every command that reads the config', () => {
  const good = ['127.0.0.1', '192.0.2.0/24', '2001:db8::/32', '[2001:db8::]/32', '::1'];
  assert.deepEqual(parseConfig({ mynetworks: good }, 'test').mynetworks, good);
  for (const bad of ['10.0.0.0/33', '2001:db8::/129', 'mail.example.com', 'fe80::1%eth0']) {
    assert.throws(
      () => parseConfig({ mynetworks: [bad] }, 'postern.yaml'),
      /mynetworks\.0: .* is invalid: expected an IP address or network/,
      bad,
    );
  }
});

test('greylisting.autoPassAfter 0 means no pass-list, as both stores implement it', () => {
  assert.equal(parseConfig({ greylisting: { enabled: true, autoPassAfter: 0 } }, 'test').greylisting.autoPassAfter, 0);
  assert.throws(() => parseConfig({ greylisting: { autoPassAfter: -1 } }, 'test'), /greylisting\.autoPassAfter: -1/);
});

test('redactUrl: a URL it cannot parse is not shown at all when it may hold a password', () => {
  assert.equal(redactUrl('postgres://u:s3cret@db/x'), 'postgres://u:***@db/x');
  assert.equal(redactUrl('postern:s3cret@127.0.0.1:5432/db'), '(an unparsable PostgreSQL URL)');
  assert.equal(redactUrl('host=db password=s3cret'), '(an unparsable PostgreSQL URL)');
  // A password of digits and an unencoded "/": parsed as port and path, its tail past the host.
  assert.equal(redactUrl('postgres://postgres:5432/S3cretTail@127.0.0.1/postern'), '(an unparsable PostgreSQL URL)');
});

test('a mistyped store.engine is shown as typed (postgresql, postgress), a URL written there is not', () => {
  const message = (engine: string) => {
    try {
      parseConfig({ store: { engine, url: 'postgres://u@127.0.0.1/db' } }, 'postern.yaml');
    } catch (err) {
      return (err as Error).message;
    }
    assert.fail('accepted');
  };
  // It said "(an unparsable PostgreSQL URL)" for both, hiding the typo.
  assert.match(message('postgresql'), /store\.engine: "postgresql" is invalid/);
  assert.match(message('postgress'), /store\.engine: "postgress" is invalid/);
  const url = message('postgres://u:S3cret@db.example.com/x');
  assert.doesNotMatch(url, /S3cret/);
});

test('no password of the store is echoed by a config error: a bare string for store, sslpassword, spaces, a "/" in it', () => {
  const message = (raw: Record<string, unknown>) => {
    try {
      parseConfig(raw, 'postern.yaml');
    } catch (err) {
      return (err as Error).message;
    }
    assert.fail('accepted');
  };
  for (const store of [
    'postgres://postern@db.example.com/postern?sslpassword=S3cretKeyPass',
    'postgres://postern:S3cret with space@db.example.com/postern',
    'postgres://postern:S3cret@db.example.com/postern',
  ]) {
    const text = message({ store });
    assert.match(text, /- store: /);
    assert.doesNotMatch(text, /S3cret/, text);
  }
  // Under another key, where a string is free text, the patterns still find them.
  const other = message({ hostname: ['postgres://u:S3cret with space@db/x?sslpassword=S3cretToo'] });
  assert.doesNotMatch(other, /S3cret/, other);
  // The URL a "/" in the password turns into another host is refused, and not shown.
  const slash = message({
    store: { engine: 'postgres', url: 'postgres://postgres:5432/S3cretTail@127.0.0.1/postern' },
  });
  assert.match(slash, /store\.url: .* "@" after the host: in the password, write "\/" as %2F/);
  assert.doesNotMatch(slash, /S3cret/, slash);
});

test('values written into DNS tag lists cannot end their tag: ";" or a quote in a report address or BIMI URL is refused', () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ dmarcRua: 'mailto:d@example.com; p=none' }, /publish\.dmarcRua: .* is invalid/],
    [{ dmarcRua: 'mailto:d@example.com;ruf=mailto:x@evil.example' }, /publish\.dmarcRua: .* is invalid/],
    [{ tlsRptRua: 'https://r.example.com/;v=x' }, /publish\.tlsRptRua: .* is invalid/],
    [{ tlsRptRua: 'mailto:t"@example.com' }, /publish\.tlsRptRua: .* is invalid/],
    [
      { bimi: { logo: 'https://example.com/logo.svg;a=https://evil.example/x.pem' } },
      /publish\.bimi\.logo: .* is invalid/,
    ],
  ];
  for (const [publish, message] of bad) {
    assert.throws(() => parseConfig({ publish }, 'test'), message, JSON.stringify(publish));
  }
  const good = parseConfig(
    {
      publish: {
        dmarcRua: 'mailto:d@example.com!10m, mailto:d@reports.example.net',
        tlsRptRua: 'https://r.example.com/v1',
        bimi: { logo: 'https://example.com/logo.svg' },
      },
    },
    'test',
  );
  assert.equal(good.publish.tlsRptRua, 'https://r.example.com/v1');
  // RFC 8460 §3 has no white space after the last URI: trimmed, and around commas too.
  const spaced = parseConfig({ publish: { tlsRptRua: ' mailto:tls@example.com , https://r.example.com/v1 ' } }, 'test');
  assert.equal(spaced.publish.tlsRptRua, 'mailto:tls@example.com,https://r.example.com/v1');
  // A retirement date past what can be reckoned left the old key "retiring" for ever.
  assert.throws(() => parseConfig({ dkim: { retireAfterDays: 1e9 } }, 'test'), /dkim\.retireAfterDays/);
});

test('a machine name that cannot be the hostname stops the start naming the key, when the config sets none', async (t) => {
  // A machine of its own name: a UTS namespace (root only) named like an address, as some cloud images are.
  const { execFile } = await import('node:child_process');
  const postern = path.join(import.meta.dirname, '../../bin/postern');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-hostname-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const run = (script: string) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile('unshare', ['--uts', 'sh', '-c', script], { cwd: dir, timeout: 20_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
      );
    });
  const probe = await run('hostname 203.0.113.5 && hostname');
  if (probe.code !== 0) {
    t.skip(`unshare --uts is not permitted here (${probe.stderr.trim()}): needs root`);
    return;
  }
  const bad = await run(`hostname 203.0.113.5 && '${postern}' check`);
  assert.equal(bad.code, 1);
  assert.match(
    bad.stdout,
    /^error: hostname is not set, and this machine's name, "203\.0\.113\.5", is not usable: must be a host name, not an IP address .*; set hostname in the config/m,
  );
  const named = await run(
    `hostname 203.0.113.5 && printf 'hostname: mx.example.com\\n' > postern.yaml && '${postern}' check`,
  );
  assert.equal(named.code, 0, named.stderr);
  assert.equal(defaultHostname('mail'), 'mail.localdomain', 'a name without a dot still gets .localdomain');
});

test('two listeners on one socket however it is spelled: IPv4-mapped, RFC 5952 forms, localhost', () => {
  for (const [smtp, submission] of [
    ['127.0.0.1:2525', '[::ffff:127.0.0.1]:2525'],
    ['127.0.0.1:2525', '[::ffff:7f00:1]:2525'],
    ['127.0.0.1:2525', 'localhost:2525'],
    ['[::1]:2525', '[0:0::1]:2525'],
    ['[0:0:0:0:0:0:0:0]:2525', '127.0.0.1:2525'],
    ['0.0.0.0:2525', '[::ffff:127.0.0.1]:2525'],
  ]) {
    assert.throws(
      () => parseConfig({ listen: { smtp, submission } }, 'test'),
      /listen\.smtp and listen\.submission (both )?take .*one port serves one listener/,
      `${smtp} ${submission}`,
    );
  }
});

test('listeners on one port apart: different hosts, an IPv4 wildcard beside an IPv6 address, port 0', () => {
  for (const listen of [
    { smtp: '127.0.0.1:25', submission: '127.0.0.2:25' },
    { smtp: '0.0.0.0:25', submission: '[::1]:25' },
    { smtp: '127.0.0.1:0', submission: '127.0.0.1:0', submissions: '127.0.0.1:0' },
    { smtp: '[::ffff:127.0.0.1]:25', submission: '[::1]:25' },
    { smtp: 'localhost:25', submission: '[::1]:25' }, // Node binds localhost to 127.0.0.1 here
  ]) {
    assert.doesNotThrow(() => parseConfig({ listen }, 'test'), JSON.stringify(listen));
  }
});

test('domains: one listed twice, or in two cases, is one domain', () => {
  const config = parseConfig({ domains: ['example.com', 'EXAMPLE.com', 'example.org', 'example.com'] }, 'test');
  assert.deepEqual(config.domains, ['example.com', 'example.org']);
});

test('a config file the user may not read: the error says so and names the user', (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('needs root, to run a child as another user');
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-config-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.chmodSync(dir, 0o755);
  const file = path.join(dir, 'postern.yaml');
  fs.writeFileSync(file, 'hostname: mx.example.com\n', { mode: 0o600 });
  const script = `import('${new URL('../../src/config/load.ts', import.meta.url).href}').then((m) => { try { m.loadConfig(process.argv[1]); } catch (e) { console.log(e.message); } })`;
  const out = execFileSync(process.execPath, ['-e', script, file], { uid: 65534, gid: 65534, encoding: 'utf8' });
  assert.equal(
    out.trim(),
    `config file ${file} cannot be read: permission denied (EACCES): this user (uid 65534) may not read it`,
  );
});

test('a maxRecipients below RFC 5321 §4.5.3.1.8 minimum of 100 is valid, and warned about', () => {
  assert.deepEqual(settingWarnings(parseConfig({}, 'test')), []);
  assert.deepEqual(settingWarnings(parseConfig({ smtp: { maxRecipients: 20 } }, 'test')), [
    'smtp.maxRecipients is 20, below the 100 recipients RFC 5321 §4.5.3.1.8 says a server must take: senders get 452 for the rest and retry them',
  ]);
});

test('serverAddresses the Internet cannot reach are a warning (RFC 6890): the NAT slip of pasting `ip addr`', () => {
  assert.deepEqual(settingWarnings(parseConfig({ serverAddresses: ['203.0.113.25'] }, 'test')), []);
  const [warning, ...more] = settingWarnings(
    parseConfig(
      { serverAddresses: ['203.0.113.25', '10.0.0.5', 'fe80::1', '127.0.0.1'], listen: { smtp: '[::]:25' } },
      'test',
    ),
  );
  assert.deepEqual(more, []);
  assert.match(
    warning ?? '',
    /^serverAddresses holds 10\.0\.0\.5, fe80::1, 127\.0\.0\.1, not reachable from the Internet/,
  );
});

test('store.engine defaults to sqlite inside the section too, as the README says', () => {
  assert.deepEqual(parseConfig({ store: {} }, 'test').store, { engine: 'sqlite' });
  assert.throws(
    () => parseConfig({ store: { url: 'postgres://x@db.example/p' } }, 'test'),
    /store\.url applies to store\.engine: postgres only/,
  );
});

test('a config file that is not UTF-8 is refused at its first bad byte (YAML 1.2 §5.2), not read with U+FFFD', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-utf8-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'postern.yaml');
  // Latin-1 "[été]": 0xE9 is no UTF-8 character's start here (a 't' follows it).
  fs.writeFileSync(
    file,
    Buffer.concat([
      Buffer.from('hostname: mx.example.com\nfilter: {phishing: {subjectTag: "[', 'utf8'),
      Buffer.from([0xe9, 0x74, 0xe9]),
      Buffer.from(']"}}\n'),
    ]),
  );
  assert.throws(
    () => loadConfig(file),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.source, file);
      assert.match(error.message, new RegExp(`^config file ${file} is not UTF-8 at line 2, column 35: the byte 0xE9 `));
      assert.match(error.message, /YAML 1\.2 §5\.2.*iconv -f ISO-8859-1 -t UTF-8/);
      return true;
    },
  );
  // Valid UTF-8 (a BOM, accents, a 4-octet character) still reads.
  fs.writeFileSync(file, '\ufeffhostname: mx.example.com\nfilter: {phishing: {subjectTag: "[été 𝄞]"}}\n');
  assert.equal(loadConfig(file).config.filter.phishing.subjectTag, '[été 𝄞]');
  // An encoded surrogate (ED A0 80) and an overlong "/" (C0 AF) are not UTF-8 either (RFC 3629 §4).
  for (const bad of [
    [0xed, 0xa0, 0x80],
    [0xc0, 0xaf],
  ]) {
    fs.writeFileSync(file, Buffer.concat([Buffer.from('hostname: mx.example.com\n# '), Buffer.from(bad)]));
    assert.throws(() => loadConfig(file), /is not UTF-8 at line 2, column 3: /);
  }
});

test('lists nested thousands deep say the nesting is too deep, not "Maximum call stack size exceeded"', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-deep-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'postern.yaml');
  fs.writeFileSync(
    file,
    `hostname: mx.example.com\nfilter: {phishing: {banner: {text: {en: ${'['.repeat(5000)}${']'.repeat(5000)}}}}}\n`,
  );
  assert.throws(
    () => loadConfig(file),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(
        error.message,
        /not valid YAML( at line \d+, column \d+)?: the lists and mappings are nested too deeply to be read/,
      );
      assert.doesNotMatch(error.message, /call stack/);
      return true;
    },
  );
});

test("a missing file named by $POSTERN_CONFIG is the error's source, and the message says where the path came from", () => {
  const missing = path.join(os.tmpdir(), `postern-missing-${process.pid}.yaml`);
  assert.throws(
    () => loadConfig(undefined, { POSTERN_CONFIG: missing }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.source, missing);
      assert.equal(error.message, `config file ${missing} (named by $POSTERN_CONFIG) does not exist`);
      return true;
    },
  );
  assert.throws(() => loadConfig(missing, {}), { message: `config file ${missing} does not exist` });
});

test('settings that cancel each other are warned about; a dataDir of spaces is refused', () => {
  const warned = (raw: Record<string, unknown>) => settingWarnings(parseConfig(raw, 'test'));
  assert.deepEqual(warned({ smtp: { softErrorLimit: 19, maxErrors: 20 }, tarpit: { stepMs: 1000, maxMs: 1000 } }), []);
  assert.deepEqual(warned({ smtp: { softErrorLimit: 50, maxErrors: 5 } }), [
    'smtp.softErrorLimit (50) is not below smtp.maxErrors (5): the session ends before the soft limit is reached, so errorSleepMs never slows a client down; set softErrorLimit below maxErrors',
  ]);
  assert.deepEqual(warned({ smtp: { softErrorLimit: 50, maxErrors: 5, errorSleepMs: 0 } }), [], 'no sleep to reach');
  assert.deepEqual(warned({ tarpit: { stepMs: 50_000, maxMs: 1000 } }), [
    'tarpit.stepMs (50000) is more than tarpit.maxMs (1000): every delay is cut to maxMs at once, so the tarpit never grows; set stepMs to a fraction of maxMs',
  ]);
  assert.deepEqual(warned({ tarpit: { enabled: false, stepMs: 50_000, maxMs: 1000 } }), []);
  assert.deepEqual(warned({ smtp: { idleTimeoutMs: 60_000 } }), [
    'smtp.idleTimeoutMs is 60000 ms, below the 5 minutes RFC 5321 §4.5.3.2.7 asks a server to wait for the next command: slow senders are cut off mid-session and retry later',
  ]);
  assert.throws(() => parseConfig({ dataDir: '   ' }, 'test'), /dataDir: " {3}" is invalid: only white space/);
  assert.equal(parseConfig({ dataDir: 'my data' }, 'test').dataDir, 'my data', 'a name with a space in it is a name');
});

test('a store URL with reserved characters in the password: one line, naming every one to encode and how', () => {
  const problems = (url: string) => {
    try {
      parseConfig({ store: { engine: 'postgres', url } }, 'postern.yaml');
    } catch (err) {
      return (err as ConfigError).problems;
    }
    assert.fail(`accepted ${url}`);
  };
  for (const url of [
    'postgres://pwuser:p@ss:w/rd%?#&=é 1@127.0.0.1:55432/db', // every kind at once: one line, not two
    'postgres://pwuser:Wr#ngS3cret@127.0.0.1:55432/db',
    'postgres://pwuser:ab/S3cret@127.0.0.1:55432/db',
    'postgres://pwuser:ab?S3cret@127.0.0.1:55432/db',
    'postgres://pwuser:S3cret with space@127.0.0.1:55432/db',
  ]) {
    const lines = problems(url);
    assert.equal(lines.length, 1, lines.join('\n'));
    const line = lines[0] ?? '';
    assert.match(line, /^store\.url: /);
    // RFC 3986 §3.2.1: of the reserved characters, all gen-delims but ":" need encoding in userinfo.
    for (const [raw, encoded] of [
      ['/', '%2F'],
      ['?', '%3F'],
      ['#', '%23'],
      ['[', '%5B'],
      [']', '%5D'],
      ['@', '%40'],
    ]) {
      assert.ok(line.includes(`"${raw}" as ${encoded}`), `${raw} in ${line}`);
    }
    assert.ok(line.includes('a space as %20'), line);
    assert.ok(line.includes('"%" as %25'), line);
    assert.match(line, /RFC 3986 §3\.2\.1/);
    assert.doesNotMatch(line, /S3cret|p@ss/, line);
  }
  // A URL of another scheme is told what a PostgreSQL URL looks like, once.
  assert.deepEqual(problems('mysql://u@db/x'), [
    'store.url: "mysql://u@db/x" is invalid: expected a PostgreSQL URL such as postgres://postern@db.example.com/postern',
  ]);
});
