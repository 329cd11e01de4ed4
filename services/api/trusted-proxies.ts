import type { IncomingMessage } from "node:http";
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import proxyAddr from "proxy-addr";

/** Addresses of a host name (every A/AAAA record). */
export type Resolve = (name: string) => Promise<string[]>;

const resolveAll: Resolve = async name => (await lookup(name, { all: true })).map(a => a.address);

/** proxy-addr's own names for address ranges. */
const RANGES = new Set(["loopback", "linklocal", "uniquelocal"]);

/** At most one look-up of the host names per this many ms. */
export const RESOLVE_INTERVAL_MS = 1000;

function isAddressEntry(entry: string): boolean {
	return RANGES.has(entry) || isIP(entry.split("/")[0]) !== 0;
}

/**
 * The client's address: the socket peer, or — only when that peer is a
 * trusted proxy (`TRUST_PROXY`) — the nearest untrusted `X-Forwarded-For` hop.
 * A forged header from an untrusted client changes nothing.
 *
 * Besides addresses, CIDRs and proxy-addr's range names, an entry may be a
 * host name (compose's balancer, `rncp-api-lb`): exactly its addresses are
 * trusted, not the network around it. Names are resolved at once and again
 * (at most every second) when a request comes from a peer the list does not
 * cover, so a balancer that starts after the gateway, or comes back with
 * another address, is trusted from its first requests on. Until a name
 * resolves, its requests count as the balancer's own: stricter, never looser.
 */
export function clientAddressResolver(
	trust: string[],
	resolve: Resolve = resolveAll
): (req: IncomingMessage) => string {
	const fixed = trust.filter(isAddressEntry);
	const names = trust.filter(entry => !isAddressEntry(entry));
	let trusted = proxyAddr.compile(fixed);
	if (names.length === 0) return req => proxyAddr(req, trusted);

	let lastLookup = -Infinity;
	let pending = false;
	function refresh(): void {
		if (pending || Date.now() - lastLookup < RESOLVE_INTERVAL_MS) return;
		pending = true;
		lastLookup = Date.now();
		void Promise.all(names.map(name => resolve(name).catch(() => [] as string[])))
			.then(lists => {
				trusted = proxyAddr.compile([...fixed, ...lists.flat()]);
			})
			.finally(() => {
				pending = false;
			});
	}
	refresh();

	return req => {
		if (!trusted(req.socket.remoteAddress ?? "", 0)) refresh();
		return proxyAddr(req, trusted);
	};
}
