// Values the schema once took and the server then could not use: each stops the start with one
// message naming the key, the value and what is expected.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { listenAddressProblem, listenProblem } from '../../src/config/listen-problem.ts';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/load.ts';

/** The ConfigError parseConfig throws for `raw`, or a failed assertion when it takes it. */
function refusal(raw: unknown): ConfigError {
  try {
    parseConfig(raw, 'postern.yaml');
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error;
  }
  assert.fail(`taken: ${JSON.stringify(raw)}`);
}

function refused(raw: unknown, mustSay: RegExp): void {
  const error = refusal(raw);
  assert.match(error.message, mustSay, JSON.stringify(raw));
  assert.equal(error.problems.length, 1, `one problem for ${JSON.stringify(raw)}: ${error.message}`);
}

/** A config file holding `text`, removed after the test. */
function configFile(t: { after: (fn: () => void) => void }, text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-config-values-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'postern.yaml');
  fs.writeFileSync(file, text);
  return file;
}

test('a control character in any file path is refused naming the key (a NUL crashed `postern check`)', () => {
  const control = /holds a control character \(U\+0000\) at position \d+/;
  refused(
    { dataDir: '/tmp/x/da\0ta' },
    /dataDir: "\/tmp\/x\/da\\u0000ta" is invalid: holds a control character \(U\+0000\) at position 10/,
  );
  refused({ dataDir: '/var/lib/postern/data\n' }, /dataDir: .* is invalid: holds a control character \(U\+000A\)/);
  refused({ tls: { certificates: [{ cert: '/etc/c\0.pem', key: '/etc/k.pem' }] } }, /tls\.certificates\.0\.cert: .*/);
  refused({ tls: { certificates: [{ cert: '/etc/c.pem', key: '/etc/k\0.pem' }] } }, /tls\.certificates\.0\.key: /);
  refused({ filter: { headerChecks: '/etc/postern/header\0checks' } }, /filter\.headerChecks: /);
  refused({ filter: { bodyChecks: '/etc/postern/body\x01checks' } }, /filter\.bodyChecks: .*U\+0001/);
  refused({ filter: { milters: [{ socket: 'unix:/run/mil\0ter.sock' }] } }, /filter\.milters\.0\.socket: /);
  refused(
    { restrictions: { sender: [{ rule: 'check_sender_access', file: '/etc/postern/send\0ers' }] } },
    /restrictions\.sender\.0\.file: .* is invalid: holds a control character/,
  );
  refused({ restrictions: { sender: ['check_sender_access /etc/send\0ers'] } }, /restrictions\.sender\.0: /);
  for (const raw of [
    { tls: { certificates: [{ cert: '/etc/c\0.pem', key: '/etc/k.pem' }] } },
    { filter: { headerChecks: '/etc/postern/header\0checks' } },
    {
      tls: {
        acme: {
          directory: 'https://acme.example/dir',
          termsOfServiceAgreed: true,
          http01: { listen: '127.0.0.1:0' },
          directoryCa: '/etc/ca\0.pem',
        },
      },
    },
  ]) {
    assert.match(refusal(raw).message, control, JSON.stringify(raw));
  }
  // White space separates a rule's words: a folded (>) rule's line end is no control character to refuse.
  const rules = parseConfig({ restrictions: { sender: ['check_sender_access\t/etc/senders\n'] } }, 't').restrictions;
  assert.deepEqual(rules.sender, ['check_sender_access\t/etc/senders\n']);
});

test('the start refuses a dataDir with a NUL before any file call, with one message', (t) => {
  const file = configFile(t, 'hostname: mx.example.com\ndataDir: "/tmp/x/da\\0ta"\n');
  assert.throws(
    () => loadConfig(file, {}),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.problems.length, 1);
      assert.match(error.message, /dataDir: "\/tmp\/x\/da\\u0000ta" is invalid: holds a control character/);
      return true;
    },
  );
});

test('dataDir: white space around it, a leading "~" and "" are refused, each with one message', () => {
  refused({ dataDir: ' /x/data' }, /dataDir: " \/x\/data" is invalid: starts with white space, which would be part/);
  refused({ dataDir: '/x/data ' }, /dataDir: "\/x\/data " is invalid: ends with white space/);
  refused(
    { dataDir: '~/data' },
    /dataDir: "~\/data" is invalid: starts with "~", .*only a shell expands ~.*give an absolute path/,
  );
  refused({ dataDir: '~' }, /dataDir: "~" is invalid: starts with "~"/);
  refused({ dataDir: '   ' }, /dataDir: " {3}" is invalid: only white space: name a directory/);
  for (const dataDir of ['/var/lib/postern', './data', 'data', 'my data', 'mail~']) {
    assert.equal(parseConfig({ dataDir }, 't').dataDir, dataDir);
  }
  // An empty directoryCa has always meant none.
  const acme = {
    directory: 'https://acme.example/dir',
    termsOfServiceAgreed: true as const,
    http01: { listen: '127.0.0.1:0' },
    directoryCa: '',
  };
  assert.equal(parseConfig({ tls: { acme } }, 't').tls.acme?.directoryCa, '');
});

test('an empty dataDir is one problem, not two', () => {
  // Was "Too small: expected string to have >=1 characters" and "only white space", for one key.
  refused({ dataDir: '' }, /dataDir: "" is invalid: empty: name a directory, such as \/var\/lib\/postern$/);
});

test('listen addresses: a multicast group, the broadcast address and fe80::/10 are refused naming the key', () => {
  const cases: [unknown, RegExp][] = [
    [
      { listen: { smtp: '224.0.0.1:25' } },
      /listen\.smtp: "224\.0\.0\.1:25" is invalid: 224\.0\.0\.1 is a multicast group .*RFC 5771/,
    ],
    [{ listen: { smtp: '[ff02::1]:25' } }, /listen\.smtp: .* is invalid: ff02::1 is a multicast group \(ff00::\/8/],
    [{ listen: { smtp: '[::ffff:239.1.2.3]:25' } }, /listen\.smtp: .* is invalid: .*multicast group/],
    [
      { listen: { submission: '255.255.255.255:587' } },
      /listen\.submission: .* is invalid: .*limited broadcast address/,
    ],
    [{ listen: { submissions: '[fe80::1]:465' } }, /listen\.submissions: .* is invalid: fe80::1 is link-local .*zone/],
    [
      { mtaSts: { listen: '239.255.0.1:443' } },
      /mtaSts\.listen: .* is invalid: .*multicast.*listen on 0\.0\.0\.0 or \[::\]/,
    ],
    [
      {
        tls: {
          acme: {
            directory: 'https://acme.example/dir',
            termsOfServiceAgreed: true,
            http01: { listen: '[fe80::2]:80' },
          },
        },
      },
      /tls\.acme\.http01\.listen: .* is invalid: fe80::2 is link-local/,
    ],
    // A DNS server is one host too.
    [
      { dns: { servers: ['224.0.0.251:53'] } },
      /dns\.servers\.0: .* is invalid: .*multicast group.*give the server's own address/,
    ],
  ];
  for (const [raw, mustSay] of cases) refused(raw, mustSay);
  // Port 0 stays a listener's: a port the system picks (tests use it).
  assert.equal(parseConfig({ listen: { smtp: '127.0.0.1:0' } }, 't').listen.smtp, '127.0.0.1:0');
  for (const smtp of ['0.0.0.0:25', '[::]:25', '[::1]:25', '[2001:db8::1]:25', '223.255.255.255:25']) {
    assert.equal(parseConfig({ listen: { smtp } }, 't').listen.smtp, smtp);
  }
});

test('a listen EINVAL is said with the key, and a name resolving to a group is found by check', async () => {
  const einval = Object.assign(new Error('listen EINVAL: invalid argument fe80::1:25'), { code: 'EINVAL' });
  assert.match(
    listenProblem('listen.smtp', 'mx.example.com:25', einval, '') ?? '',
    /^listen\.smtp: the system refuses to listen on mx\.example\.com:25 \(EINVAL\): .*fe80::\/10.*listen on 0\.0\.0\.0, \[::\]/,
  );
  const lookup = async () => ({ address: '224.0.0.9', family: 4 });
  assert.equal(
    await listenAddressProblem('listen.smtp', 'group.example.com:25', { lookup, nonLocalBind: () => true }),
    'listen.smtp: group.example.com:25 cannot be listened on (group.example.com resolves to 224.0.0.9): 224.0.0.9 is a multicast group (224.0.0.0/4, RFC 5771 §1), not one host',
  );
});

test('a milter on port 0 is refused (the message said 0-65535)', () => {
  refused(
    { filter: { milters: [{ socket: 'inet:0@127.0.0.1' }] } },
    /filter\.milters\.0\.socket: "inet:0@127\.0\.0\.1" is invalid: the port must be 1-65535/,
  );
});

test('a DNS server on port 0 is refused; a listener keeps port 0', () => {
  refused({ dns: { servers: ['127.0.0.1:0'] } }, /dns\.servers\.0: "127\.0\.0\.1:0" is invalid: port must be 1-65535/);
  refused({ dns: { servers: ['[::1]:0'] } }, /dns\.servers\.0: .* is invalid: port must be 1-65535/);
  assert.equal(parseConfig({ listen: { smtp: '127.0.0.1:0' } }, 't').listen.smtp, '127.0.0.1:0');
});

test('a milter host that is neither an IP address nor a host name is refused', () => {
  refused(
    { filter: { milters: [{ socket: 'inet:11332@bad_host!!' }] } },
    /filter\.milters\.0\.socket: "inet:11332@bad_host!!" is invalid: the host must be an IP address or a host name/,
  );
  refused({ filter: { milters: [{ socket: 'inet:11332@10.0.0' }] } }, /the host must be an IP address or a host name/);
  refused({ filter: { milters: [{ socket: 'inet6:11332@[ff02::1]' }] } }, /milters\.0\.socket: .*multicast group/);
  for (const socket of [
    'inet:11332@127.0.0.1',
    'inet:11332@localhost',
    'inet:11332@rspamd.example.com',
    'inet:11332@rspamd_milter', // a Docker service name: resolvers take underscores
    'inet6:11332@::1',
    'inet6:11332@[::1]',
    'unix:/run/rspamd/milter.sock',
  ]) {
    assert.equal(parseConfig({ filter: { milters: [{ socket }] } }, 't').filter.milters[0]?.socket, socket);
  }
});

test('a restriction that is neither a rule name nor a rule object says which forms are expected', () => {
  for (const [entry, shown] of [
    [5, '5'],
    [{}, '{}'],
    [{ rule: 5 }, '{"rule":5}'],
    [['reject'], '["reject"]'],
  ] as const) {
    const error = refusal({ restrictions: { client: [entry] } });
    assert.equal(error.problems.length, 1);
    assert.equal(
      error.problems[0],
      `restrictions.client.0: ${shown} is invalid: expected a rule, as a string ("reject_unknown_client_hostname", ` +
        '"check_client_access /etc/postern/clients") or as an object naming it in rule ({ rule: check_client_access, file: /etc/postern/clients })',
    );
  }
});

test('an unknown YAML tag is a config error naming the key, line and column, not a process warning', async (t) => {
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => warnings.push(warning);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const file = configFile(t, 'hostname: !host mail.example.com\ndomains:\n  - !!foo example.com\n');
  assert.throws(
    () => loadConfig(file, {}),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.problems, [
        'hostname: the tag !host at line 1, column 11 is unknown (YAML\'s are !!str, !!int, !!float, !!bool, !!null, !!seq, !!map): what the value was meant to be is not known; remove the tag, or quote the value if the "!" belongs to it',
        'domains.0: the tag tag:yaml.org,2002:foo at line 3, column 5 is unknown (YAML\'s are !!str, !!int, !!float, !!bool, !!null, !!seq, !!map): what the value was meant to be is not known; remove the tag, or quote the value if the "!" belongs to it',
      ]);
      assert.match(error.message, /^.*postern\.yaml: invalid configuration\n {2}- hostname: the tag !host/);
      return true;
    },
  );
  // Other warnings of the reader are errors too, with their place.
  fs.writeFileSync(file, '%FOO bar\n---\nhostname: mx.example.com\n');
  assert.throws(() => loadConfig(file, {}), /- YAML at line 1, column 1: Unknown directive %FOO/);
  // A standard tag is no warning.
  fs.writeFileSync(file, 'hostname: !!str mx.example.com\n');
  assert.equal(loadConfig(file, {}).config.hostname, 'mx.example.com');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(
    warnings.map((w) => w.message),
    [],
    'nothing written to stderr',
  );
});

test('several YAML documents in the file are counted and the second one placed', (t) => {
  const file = configFile(t, 'hostname: mx.example.com\n---\ndomains: [example.com]\n');
  assert.throws(() => loadConfig(file, {}), {
    message: `${file}: one YAML document expected, found 2 (a second '---' at line 2): a config is one document; remove the '---' line, or merge the documents`,
  });
  fs.writeFileSync(file, '---\nhostname: mx.example.com\n...\n---\ndomains: [example.com]\n---\nlog: {}\n');
  assert.throws(() => loadConfig(file, {}), /: one YAML document expected, found 3 \(a second '---' at line 4\)/);
  // A "---" opening the one document is no second document.
  fs.writeFileSync(file, '---\nhostname: mx.example.com\n');
  assert.equal(loadConfig(file, {}).config.hostname, 'mx.example.com');
});

test('auth.scramIterations: 4096 (RFC 7677 §4) to 10,000,000', () => {
  assert.equal(parseConfig({}, 't').auth.scramIterations, 4096);
  assert.equal(parseConfig({ auth: { scramIterations: 600_000 } }, 't').auth.scramIterations, 600_000);
  refused({ auth: { scramIterations: 4095 } }, /auth\.scramIterations: 4095 is invalid/);
  refused({ auth: { scramIterations: 20_000_000 } }, /auth\.scramIterations: 20000000 is invalid/);
});

test('mtaSts.mx: host names or *.parent wildcards (RFC 8461 §3.2), as senders compare them; absent, the hostname', () => {
  const mx = (value: unknown) => parseConfig({ hostname: 'mx.example.com', mtaSts: { mx: value } }, 't').mtaSts.mx;
  assert.equal(parseConfig({ hostname: 'mx.example.com' }, 't').mtaSts.mx, undefined);
  // Lower case, IDN as A-labels (RFC 5890 §2.3.2.1), each once.
  assert.deepEqual(mx(['MX1.Example.com', '*.Bücher.example', 'mx1.example.com']), [
    'mx1.example.com',
    '*.xn--bcher-kva.example',
  ]);
  refused({ mtaSts: { mx: [] } }, /mtaSts\.mx: \[\] is invalid: list at least one MX host/);
  refused(
    { mtaSts: { mx: ['192.0.2.1'] } },
    /mtaSts\.mx\.0: "192\.0\.2\.1" is invalid: must be a host name, not an IP address/,
  );
  refused({ mtaSts: { mx: ['mail'] } }, /mtaSts\.mx\.0: "mail" is invalid: expected a fully-qualified host name/);
  refused(
    { mtaSts: { mx: ['a_b.example.com'] } },
    /mtaSts\.mx\.0: "a_b\.example\.com" is invalid: .*or a "\*\." wildcard/,
  );
  // §4.1: "*" stands for one whole leftmost label, over a parent domain.
  refused({ mtaSts: { mx: ['mx.*.example.com'] } }, /mtaSts\.mx\.0: "mx\.\*\.example\.com" is invalid/);
  refused({ mtaSts: { mx: ['*mx.example.com'] } }, /mtaSts\.mx\.0: "\*mx\.example\.com" is invalid/);
  refused(
    { mtaSts: { mx: ['*.*.example.com'] } },
    /"\*\.\*\.example\.com" is invalid: after "\*\." a wildcard needs its parent domain/,
  );
  refused({ mtaSts: { mx: ['*.com'] } }, /"\*\.com" is invalid: after "\*\." a wildcard needs its parent domain/);
  refused({ mtaSts: { mx: ['*.xn--zz.example'] } }, /"\*\.xn--zz\.example" is invalid: .*not a valid IDN A-label/);
});

test('auth.bounceRelays takes every address an account can have', () => {
  const relays = (list: string[]) => parseConfig({ auth: { bounceRelays: list } }, 'test').auth.bounceRelays;
  // zod's email() refused each of these: an IDN top-level domain, a U-label, a quoted local part, "!".
  // The server takes them in the form accounts are stored (test/server/submission.test.ts).
  const accepted = [
    'relay@xn--e1afmkfd.xn--p1ai',
    'Relay@Bücher.example',
    '"relay"@example.com',
    'relay!x@example.com',
  ];
  assert.deepEqual(relays(accepted), accepted);
  for (const bad of ['nope', '@example.com', 'relay@', 'relay@bad_domain']) {
    assert.throws(() => relays([bad]), /auth\.bounceRelays\.0: .* is invalid: expected an account's address/, bad);
  }
});

test('a domain or hostname written with the trailing dot of a zone file is refused, naming the dot', () => {
  assert.throws(
    () => parseConfig({ domains: ['example.com.'] }, 'test'),
    /domains\.0: "example\.com\." is invalid: .*without the trailing dot of a zone file: example\.com/,
  );
  assert.throws(() => parseConfig({ hostname: 'mx.example.com.' }, 'test'), /hostname: .*trailing dot/);
  assert.throws(
    () => parseConfig({ domains: ['a..b'] }, 'test'),
    (e: Error) => !/trailing dot/.test(e.message),
  );
});

test('the phishing domain lists take domain names as `domains` does: the trailing dot, URLs and bad A-labels are refused', () => {
  // Each value was taken and then matched no sender: the detector compares the entries as strings.
  const phishing = (p: object) => ({ filter: { phishing: p } });
  const keys: [string, (v: string) => object][] = [
    ['filter.phishing.allowlist.0', (v) => phishing({ allowlist: [v] })],
    ['filter.phishing.protectedDomains.0', (v) => phishing({ protectedDomains: [v] })],
    ['filter.phishing.partnerDomains.0', (v) => phishing({ partnerDomains: [v] })],
    ['filter.phishing.brands.0.domains.0', (v) => phishing({ brands: [{ names: ['Acme'], domains: [v] }] })],
  ];
  for (const bad of ['partner.example.', 'https://partner.example/', '*.partner.example', 'xn--zz.example', 'com']) {
    // The very words `domains` says for the same value, under the other key.
    const said = refusal({ domains: [bad] }).problems[0]!.replace(/^domains\.0: /, '');
    for (const [key, raw] of keys) {
      const problems = refusal(raw(bad)).problems;
      assert.deepEqual(problems, [`${key}: ${said}`], `${key}: ${bad}`);
    }
  }
  assert.match(
    refusal(phishing({ allowlist: ['partner.example.'] })).message,
    /filter\.phishing\.allowlist\.0: "partner\.example\." is invalid: .*without the trailing dot of a zone file: partner\.example$/m,
  );
  refused(
    phishing({ allowlist: ['billing@partner.example.'] }),
    /allowlist\.0: "billing@partner\.example\." is invalid: the domain after "@": .*without the trailing dot of a zone file: partner\.example$/,
  );
  refused(phishing({ allowlist: ['@partner.example'] }), /expected a domain \(example\.com\) or an address/);
  refused(phishing({ allowlist: ['a b@partner.example'] }), /expected a domain \(example\.com\) or an address/);
});

test('the phishing domain lists keep each entry as the detector compares it: lower case, A-labels', () => {
  const p = parseConfig(
    {
      filter: {
        phishing: {
          allowlist: ['Partner.Example', 'Billing@Bücher.Example', 'xn--bcher-kva.example', 'münchen.example'],
          protectedDomains: ['Bank.Example', 'BÜCHER.example'],
          partnerDomains: ['partner.example'],
          brands: [{ names: ['Acme'], domains: ['ACME.example'] }],
        },
      },
    },
    'test',
  ).filter.phishing;
  assert.deepEqual(p.allowlist, [
    'partner.example',
    'billing@xn--bcher-kva.example',
    'xn--bcher-kva.example',
    'xn--mnchen-3ya.example',
  ]);
  assert.deepEqual(p.protectedDomains, ['bank.example', 'xn--bcher-kva.example']);
  assert.deepEqual(p.partnerDomains, ['partner.example']);
  assert.deepEqual(p.brands[0]?.domains, ['acme.example']);
});

test('an unquoted IPv6 address in YAML names its key and the quoted value to write', (t) => {
  const said = (text: string) => {
    const file = configFile(t, `hostname: mx.example.com\n${text}`);
    try {
      loadConfig(file, {});
    } catch (error) {
      assert.ok(error instanceof ConfigError, String(error));
      assert.equal(error.problems.length, 1, error.message);
      return error.problems[0];
    }
    assert.fail(`taken: ${text}`);
  };
  const quote = (value: string, line: number) =>
    `an IPv6 address must be quoted in YAML: "${value}" (line ${line}: unquoted, the "[" starts a YAML list)`;
  assert.equal(said('listen:\n  smtp: [::1]:25\n'), `listen.smtp: ${quote('[::1]:25', 3)}`);
  assert.equal(said('listen: {smtp: [::1]:25}\n'), `listen.smtp: ${quote('[::1]:25', 2)}`);
  assert.equal(
    said('listen:\n  submission: 127.0.0.1:587\n  # IPv6\n\n  smtp: [::]:25  # every address\n'),
    `listen.smtp: ${quote('[::]:25', 6)}`,
  );
  assert.equal(
    said('tls:\n  acme:\n    directory: https://ca.example/dir\n    tlsAlpn01: {listen: [::]:443}\n'),
    `tls.acme.tlsAlpn01.listen: ${quote('[::]:443', 5)}`,
  );
  assert.equal(said('dns:\n  servers:\n  - 127.0.0.1:53\n  - [::1]:53\n'), `dns.servers.1: ${quote('[::1]:53', 5)}`);
  assert.equal(said('mtaSts:\n  listen: [2001:db8::1]:443\n'), `mtaSts.listen: ${quote('[2001:db8::1]:443', 3)}`);
  // Another YAML error keeps yaml's words.
  assert.match(said('listen:\n  smtp: [unclosed\n') ?? '', /^not valid YAML at line \d+, column \d+: /);
});

test('a required key that is absent is said to be required, not "missing is invalid"', () => {
  refused(
    { tls: { certificates: [{ cert: '/etc/postern/cert.pem' }] } },
    /^ {2}- tls\.certificates\.0\.key is required: expected a string$/m,
  );
  const acme = { directory: 'https://ca.example/dir', http01: { listen: '0.0.0.0:80' } };
  refused(
    { tls: { acme } },
    /^ {2}- tls\.acme\.termsOfServiceAgreed is required: read the CA's terms of service .*then set termsOfServiceAgreed: true/m,
  );
  refused(
    { tls: { acme: { ...acme, termsOfServiceAgreed: false } } },
    /tls\.acme\.termsOfServiceAgreed: false is invalid: read the CA's terms of service .*then set termsOfServiceAgreed: true/,
  );
  assert.doesNotMatch(refusal({ tls: { certificates: [{ cert: '/x.pem' }] } }).message, /missing is invalid|undefined/);
});
