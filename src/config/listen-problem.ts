import dns from 'node:dns';
import fs from 'node:fs';
import { BlockList, isIP } from 'node:net';
import os from 'node:os';
import { ipv4Mapped, notOneHostProblem } from './hosts.ts';
import { splitHostPort } from './load.ts';

/**
 * Why a listener named by a config key cannot have its address, in words an admin acts on: Node's
 * "listen EADDRINUSE" names neither the key nor what to do. Used for `listen.*` and the ACME challenge
 * responders alike; undefined for errors that are not about the address (those keep their stack).
 */
export function listenProblem(key: string, address: string, error: unknown, whenInUse: string): string | undefined {
  switch ((error as NodeJS.ErrnoException).code) {
    case 'EADDRINUSE':
      return `${key}: ${address} is in use by another program (${whenInUse})`;
    case 'EACCES':
      return `${key}: no permission to listen on ${address}: ports below 1024 need root or CAP_NET_BIND_SERVICE (setcap 'cap_net_bind_service=+ep' on the node binary)`;
    case 'EADDRNOTAVAIL':
      return `${key}: ${address} is not an address of this machine`;
    case 'ENOTFOUND':
      return `${key}: the host of ${address} does not resolve to an address (give an IP address, or a name in /etc/hosts or DNS)`;
    case 'EAI_AGAIN':
      return `${key}: the host of ${address} could not be resolved now (DNS did not answer); an IP address needs no lookup`;
    // The kernel's word for an address no socket can bind as given: an IPv6 link-local one without its
    // zone (RFC 4007 §6), which a host name can still resolve to though the schema refuses the literal.
    case 'EINVAL':
      return `${key}: the system refuses to listen on ${address} (EINVAL): it is no address a listener can have, such as a link-local IPv6 address (fe80::/10) without a zone; listen on 0.0.0.0, [::] or another address of this machine`;
    default:
      return undefined;
  }
}

/** How a listen host's name becomes an address: as net.Server#listen does, dns.lookup's first answer. */
export type ListenLookup = (host: string) => Promise<{ address: string; family: number }>;

export interface ListenCheckOptions {
  lookup?: ListenLookup;
  /** This machine's addresses, as os.networkInterfaces() gives them. */
  interfaces?: NodeJS.Dict<os.NetworkInterfaceInfo[]>;
  /** Whether the kernel lets a socket bind an address it does not have (net.ipv4.ip_nonlocal_bind). */
  nonLocalBind?: (family: 'ipv4' | 'ipv6') => boolean;
  /**
   * The lowest port any user may bind (net.ipv4.ip_unprivileged_port_start, which covers IPv6 too), and
   * whether serve may bind below it: given by `check`, which looks before it becomes the data directory's
   * owner, since serve started as root binds its ports first and only then becomes that user.
   */
  privilegedPorts?: { start: number; allowed: boolean };
}

/**
 * What listenProblem would say once serve tried to bind `address`, found without binding it (for
 * `postern check`, as `nginx -t` resolves its listen names): a host name is resolved with the system
 * resolver, as Node's listen resolves it, and the address must be a wildcard or one of this
 * machine's; a port below ip_unprivileged_port_start needs root or CAP_NET_BIND_SERVICE. Undefined
 * when serve could have it (a port in use is not known until then).
 */
export async function listenAddressProblem(
  key: string,
  address: string,
  options: ListenCheckOptions = {},
): Promise<string | undefined> {
  const problem = await addressProblem(key, address, options);
  if (problem !== undefined) return problem;
  // Linux's bind(2) looks at the address first (EADDRNOTAVAIL), then at the port (EACCES). Port 0 is
  // one the system picks, never a privileged one.
  const { port } = splitHostPort(address);
  const privileged = options.privilegedPorts ?? processPrivilegedPorts();
  if (port !== 0 && port < privileged.start && !privileged.allowed) {
    return listenProblem(key, address, { code: 'EACCES' }, '');
  }
  return undefined;
}

async function addressProblem(key: string, address: string, options: ListenCheckOptions): Promise<string | undefined> {
  const { host } = splitHostPort(address);
  let ip = host;
  let named = '';
  if (isIP(host) === 0) {
    try {
      ip = (await (options.lookup ?? dns.promises.lookup)(host)).address;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      return (
        listenProblem(key, address, error, '') ??
        `${key}: the host of ${address} could not be resolved (${code ?? (error as Error).message})`
      );
    }
    named = ` (${host} resolves to ${ip})`;
  }
  const v4 = ipv4Mapped(ip) ?? (isIP(ip) === 4 ? ip : undefined);
  const family = v4 === undefined ? 'ipv6' : 'ipv4';
  const literal = v4 ?? ip;
  // A name may resolve to what the schema refuses as a literal (a multicast group, fe80::/10).
  const notOneHost = notOneHostProblem(literal);
  if (notOneHost) return `${key}: ${address} cannot be listened on${named}: ${notOneHost}`;
  if (literal === '0.0.0.0' || (isIP(literal) === 6 && isWildcard6(literal))) return undefined;
  const nonLocalBind = options.nonLocalBind ?? kernelNonLocalBind;
  if (nonLocalBind(family)) return undefined;
  if (localAddresses(options.interfaces ?? os.networkInterfaces()).check(literal, family)) return undefined;
  const problem = listenProblem(key, address, { code: 'EADDRNOTAVAIL' }, '');
  return problem === undefined ? undefined : problem + named;
}

/** CAP_NET_BIND_SERVICE's bit in the capability sets of /proc/PID/status (linux/capability.h). */
const CAP_NET_BIND_SERVICE = 10n;

/**
 * What the kernel would let this process bind, from /proc (Linux): the ports below
 * ip_unprivileged_port_start need CAP_NET_BIND_SERVICE in the effective set, which root has unless a
 * container dropped it. Without /proc there is no prediction (start 0): the bind says it.
 */
export function processPrivilegedPorts(): { start: number; allowed: boolean } {
  let start: number;
  try {
    start = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim());
  } catch {
    return { start: 0, allowed: true };
  }
  if (!Number.isInteger(start)) return { start: 0, allowed: true };
  let allowed = process.geteuid?.() === 0;
  try {
    const effective = /^CapEff:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (effective !== undefined) allowed = ((BigInt(`0x${effective}`) >> CAP_NET_BIND_SERVICE) & 1n) === 1n;
  } catch {
    // no status to read: root is taken to have it, as it has outside a container
  }
  return { start, allowed };
}

function isWildcard6(ip: string): boolean {
  return new URL(`http://[${ip}]/`).hostname === '[::]';
}

/**
 * The addresses a socket may bind: each interface's own, and on a loopback interface its whole
 * network (Linux answers every 127.0.0.0/8 address on lo, so 127.0.0.2 binds).
 */
function localAddresses(interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]>): BlockList {
  const local = new BlockList();
  for (const entries of Object.values(interfaces)) {
    for (const entry of entries ?? []) {
      const family = entry.family === 'IPv4' ? 'ipv4' : 'ipv6';
      const prefix = entry.cidr === null ? undefined : Number(entry.cidr.slice(entry.cidr.lastIndexOf('/') + 1));
      if (entry.internal && prefix !== undefined) local.addSubnet(entry.address, prefix, family);
      else local.addAddress(entry.address, family);
    }
  }
  return local;
}

/** net.ipv4.ip_nonlocal_bind / net.ipv6.ip_nonlocal_bind: set, any address binds (a floating IP not yet moved here). */
function kernelNonLocalBind(family: 'ipv4' | 'ipv6'): boolean {
  try {
    return fs.readFileSync(`/proc/sys/net/${family}/ip_nonlocal_bind`, 'utf8').trim() === '1';
  } catch {
    return false;
  }
}

/**
 * Two listeners whose names resolve to one socket (`vm:2587` and `127.0.0.1:2587`, vm being
 * 127.0.0.1 in /etc/hosts): the load-time check compares spellings, so `check` asks this, and so
 * does serve when a bind fails with EADDRINUSE, rather than blame "another program". With
 * `involving`, only a clash of that key's listener.
 */
export async function resolvedClash(
  entries: readonly (readonly [string, string])[],
  options: ListenCheckOptions = {},
  involving?: string,
): Promise<string | undefined> {
  const resolved = await Promise.all(
    entries.map(async ([key, address]) => {
      const { host, port } = splitHostPort(address);
      if (port === 0) return undefined; // each its own port, picked by the system
      try {
        const ip = isIP(host) !== 0 ? host : (await (options.lookup ?? dns.promises.lookup)(host)).address;
        return { key, address, port, ip: ipv4Mapped(ip) ?? ip };
      } catch {
        return undefined; // said above: a host that does not resolve
      }
    }),
  );
  const socket = resolved.filter((entry) => entry !== undefined);
  for (const [i, a] of socket.entries()) {
    for (const b of socket.slice(i + 1)) {
      // A wildcard takes the port on every address of its family (Linux: [::] on IPv4 too).
      const covers = (w: string, h: string) => w === '::' || (w === '0.0.0.0' && !h.includes(':'));
      if (a.port !== b.port || !(a.ip === b.ip || covers(a.ip, b.ip) || covers(b.ip, a.ip))) continue;
      if (involving !== undefined && a.key !== involving && b.key !== involving) continue;
      return `${a.key} (${a.address}) and ${b.key} (${b.address}) are one socket, ${a.ip} port ${a.port}: one port serves one listener; give one of them another port`;
    }
  }
  return undefined;
}
