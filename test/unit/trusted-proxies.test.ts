import type { IncomingMessage } from "node:http";
import { clientAddressResolver, RESOLVE_INTERVAL_MS } from "../../services/api/trusted-proxies";

/** A request as the gateway sees it: the socket peer and the header a proxy (or a client) wrote. */
function request(peer: string, forwardedFor?: string): IncomingMessage {
	return {
		socket: { remoteAddress: peer },
		headers: forwardedFor ? { "x-forwarded-for": forwardedFor } : {}
	} as unknown as IncomingMessage;
}

const settle = () => new Promise(resolve => setImmediate(resolve));

describe("clientAddressResolver (TRUST_PROXY)", () => {
	it("trusts no proxy by default: a forged X-Forwarded-For changes nothing", () => {
		const address = clientAddressResolver([]);
		expect(address(request("::ffff:172.18.0.1", "203.0.113.7"))).toBe("::ffff:172.18.0.1");
	});

	it("trusts exactly the addresses a host name resolves to, not the network around them", async () => {
		const resolve = jest.fn(async () => ["172.18.0.9"]);
		const address = clientAddressResolver(["rncp-api-lb"], resolve);
		await settle();
		// The balancer sets the header from its own peer: that peer is the client.
		expect(address(request("::ffff:172.18.0.9", "172.18.0.1"))).toBe("172.18.0.1");
		// Another container of the same network is not trusted, whatever it writes.
		expect(address(request("::ffff:172.18.0.4", "203.0.113.7"))).toBe("::ffff:172.18.0.4");
		expect(resolve).toHaveBeenCalledWith("rncp-api-lb");
	});

	it("resolves again when an untrusted peer comes (a balancer started later or restarted), at most once a second", async () => {
		let answer: string[] | Error = new Error("getaddrinfo ENOTFOUND rncp-api-lb");
		const resolve = jest.fn(async () => {
			if (answer instanceof Error) throw answer;
			return answer;
		});
		const now = jest.spyOn(Date, "now");
		let clock = 1_000_000;
		now.mockImplementation(() => clock);
		try {
			const address = clientAddressResolver(["loopback", "rncp-api-lb"], resolve);
			await settle();
			// Not resolvable yet: the balancer's requests count as its own, never as the header says.
			expect(address(request("172.18.0.9", "203.0.113.7"))).toBe("172.18.0.9");
			expect(resolve).toHaveBeenCalledTimes(1);

			answer = ["172.18.0.9"];
			clock += RESOLVE_INTERVAL_MS;
			expect(address(request("172.18.0.9", "203.0.113.7"))).toBe("172.18.0.9");
			await settle();
			expect(resolve).toHaveBeenCalledTimes(2);
			expect(address(request("172.18.0.9", "203.0.113.7"))).toBe("203.0.113.7");
			// The fixed entries stay trusted.
			expect(address(request("127.0.0.1", "198.51.100.2"))).toBe("198.51.100.2");

			// Within the interval, untrusted peers trigger no look-up.
			address(request("172.18.0.4"));
			address(request("172.18.0.4"));
			await settle();
			expect(resolve).toHaveBeenCalledTimes(2);
		} finally {
			now.mockRestore();
		}
	});
});
