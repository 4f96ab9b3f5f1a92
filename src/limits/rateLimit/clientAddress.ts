/**
 * The address an anonymous request is counted under. Pure.
 *
 * With `trustedProxyHops` 0 it is the connection's own address, and `X-Forwarded-For` is ignored:
 * any client can write that header, and would pick a fresh address per request. Behind proxies,
 * each appends the address it received the request from, so the client's is the entry
 * `trustedProxyHops` back from the connection's (the proxy nearest the server is the connection);
 * entries further left were written by the client and are never read. A request with fewer entries
 * than that did not come through every proxy: its leftmost entry is used.
 *
 * An IPv4 address seen through an IPv6 socket (`::ffff:1.2.3.4`) counts as the IPv4 address. An IPv6
 * client is counted by its full address, not its /64 (not done: one host can hold a whole /64).
 */
export function clientAddress(remoteAddress: string | undefined, forwardedFor: string | string[] | undefined, trustedProxyHops: number): string {
  const socket = remoteAddress ?? 'unknown';
  if (trustedProxyHops === 0 || forwardedFor === undefined) return normalise(socket);
  const chain = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor)
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  // The chain as seen from the server: the connection's address last.
  chain.push(socket);
  return normalise(chain[Math.max(0, chain.length - 1 - trustedProxyHops)] as string);
}

// Private:

/** Longer than any address: a proxy that passes a client's junk on cannot make keys of any size. */
const MAX_ADDRESS_LENGTH = 64;

function normalise(address: string): string {
  const plain = address.startsWith('::ffff:') && address.includes('.') ? address.slice('::ffff:'.length) : address;
  return plain.slice(0, MAX_ADDRESS_LENGTH);
}
