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
    default:
      return undefined;
  }
}
