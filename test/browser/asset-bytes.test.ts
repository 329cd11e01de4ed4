import { connect, createServer, type Server, type Socket } from "node:net";
import { request } from "node:http";
import type { Page } from "playwright-core";
import { startNode, uniqueNamespace, type NodeProcess } from "../support/node-process";
import { freePort, waitFor } from "../support/redis-server";
import { launchPersistentChromium } from "./support";

/**
 * What a browser downloads from `www`: a first visit (the page, its hashed
 * assets, and the service worker's precache of the app shell) and a repeat
 * visit (expected: revalidations only). Bytes are counted on the wire by a TCP
 * relay in front of the www node: headers included, every request of the page
 * and of its service worker.
 */

jest.setTimeout(60_000);

interface Relay {
	url: string;
	/** Bytes sent to the browser so far. */
	bytes(): number;
	/** `METHOD path` of every request so far. */
	requests(): string[];
	close(): Promise<void>;
}

function startRelay(targetPort: number, port = 0): Promise<Relay> {
	let bytes = 0;
	const requests: string[] = [];
	const sockets = new Set<Socket>();
	const server: Server = createServer(client => {
		const upstream = connect(targetPort, "127.0.0.1");
		sockets.add(client).add(upstream);
		client.on("data", (chunk: Buffer) => {
			for (const m of chunk.toString("latin1").matchAll(/^(GET|HEAD|POST) (\S+) HTTP\/1\.1\r$/gm)) {
				requests.push(`${m[1]} ${m[2]}`);
			}
			upstream.write(chunk);
		});
		upstream.on("data", (chunk: Buffer) => {
			bytes += chunk.length;
			client.write(chunk);
		});
		const close = () => {
			client.destroy();
			upstream.destroy();
		};
		client.on("close", close).on("error", close);
		upstream.on("close", close).on("error", close);
	});
	return new Promise(resolve =>
		server.listen(port, "127.0.0.1", () => {
			const address = server.address();
			resolve({
				url: `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`,
				bytes: () => bytes,
				requests: () => [...requests],
				close: () =>
					new Promise(done => {
						for (const s of sockets) s.destroy();
						server.close(() => done());
					})
			});
		})
	);
}

/** Total bytes (status line, headers, body) of one GET with this Accept-Encoding. */
function wireBytes(url: string, acceptEncoding: string): Promise<number> {
	return new Promise((resolve, reject) => {
		const req = request(url, { headers: { "accept-encoding": acceptEncoding } }, res => {
			let body = 0;
			res.on("data", (c: Buffer) => (body += c.length));
			res.on("end", () => {
				const head = `HTTP/1.1 ${res.statusCode} ${res.statusMessage}\r\n${res.rawHeaders
					.map((v, i) => (i % 2 ? `${v}\r\n` : `${v}: `))
					.join("")}\r\n`;
				resolve(Buffer.byteLength(head) + body);
			});
		});
		req.on("error", reject);
		req.end();
	});
}

/** Waits until the relay has carried nothing new for `quietMs`: the page and its worker are done. */
async function settled(relay: Relay, quietMs = 750): Promise<void> {
	let last = -1;
	let since = Date.now();
	await waitFor(
		() => {
			const now = relay.bytes();
			if (now !== last) {
				last = now;
				since = Date.now();
			}
			return Date.now() - since >= quietMs;
		},
		{ timeoutMs: 20_000, intervalMs: 50, what: "the network to go quiet" }
	);
}

describe("bytes a browser downloads from www", () => {
	let www: NodeProcess;
	let relay: Relay;
	let wwwUrl: string;

	beforeAll(async () => {
		const port = await freePort();
		const namespace = uniqueNamespace("bytes");
		wwwUrl = `http://127.0.0.1:${port}`;
		// The gateway is not needed to count the static bytes: the app shows its sign-in page.
		www = startNode({
			services: "www",
			nodeID: `${namespace}-www`,
			env: { NAMESPACE: namespace, WWW_PORT: String(port), API_URL: "http://127.0.0.1:9" }
		});
		await waitFor(() => fetch(`${wwwUrl}/config.json`).then(r => r.ok), { what: "the www node" });
		relay = await startRelay(port);
	});

	afterAll(async () => {
		await relay?.close();
		await www?.stop();
	});

	it("costs the compressed shell on a first visit and revalidations only on a repeat visit", async () => {
		const browser = await launchPersistentChromium({ width: 1280, height: 860 });
		try {
			const page: Page = await browser.context.newPage();
			await page.goto(`${relay.url}/#/sign-in`);
			await waitFor(() => page.evaluate("!!navigator.serviceWorker.controller"), {
				timeoutMs: 15_000,
				what: "the service worker to control the page"
			});
			await settled(relay);
			const first = relay.bytes();
			const firstRequests = relay.requests();

			await page.close();
			const again = await browser.context.newPage();
			await again.goto(`${relay.url}/#/sign-in`);
			await again.getByRole("heading", { level: 1 }).first().waitFor();
			await settled(relay);
			const repeat = relay.bytes() - first;
			const repeatRequests = relay.requests().slice(firstRequests.length);

			// The same first visit at each encoding (what a browser without brotli, or without any, would pay).
			const perEncoding: Record<string, number> = {};
			for (const encoding of ["br", "gzip", "identity"]) {
				let total = 0;
				for (const line of firstRequests) total += await wireBytes(`${wwwUrl}${line.split(" ")[1]}`, encoding);
				perEncoding[encoding] = total;
			}
			console.log(
				JSON.stringify({ first, firstRequests, repeat, repeatRequests, perEncoding }, null, 2) // figures for docs/pwa.md
			);

			const script = firstRequests.filter(r => /^GET \/assets\/.+\.js$/.test(r));
			expect(script.length).toBeGreaterThan(0);
			// Brotli: the first visit costs well under the raw bytes of the same requests.
			expect(first).toBeLessThan(perEncoding.identity * 0.6);
			// Repeat visit: nothing from /assets/ again, and a few kB of revalidations at most.
			expect(repeatRequests.filter(r => r.includes("/assets/"))).toEqual([]);
			expect(repeat).toBeLessThan(4096);
		} finally {
			await browser.close();
		}
	});
});

describe("hashed assets from a CDN origin (ASSET_BASE_URL)", () => {
	let www: NodeProcess;
	let cdn: Relay;
	let wwwUrl: string;

	beforeAll(async () => {
		const [port, cdnPort] = [await freePort(), await freePort()];
		const namespace = uniqueNamespace("cdn");
		wwwUrl = `http://127.0.0.1:${port}`;
		// The "CDN" is another origin (another port) pulling from www, as a CDN does.
		www = startNode({
			services: "www",
			nodeID: `${namespace}-www`,
			env: {
				NAMESPACE: namespace,
				WWW_PORT: String(port),
				API_URL: "http://127.0.0.1:9",
				ASSET_BASE_URL: `http://localhost:${cdnPort}`
			}
		});
		await waitFor(() => fetch(`${wwwUrl}/config.json`).then(r => r.ok), { what: "the www node" });
		cdn = await startRelay(port, cdnPort);
	});

	afterAll(async () => {
		await cdn?.close();
		await www?.stop();
	});

	it("runs the app with its script and stylesheet from the CDN origin (CSP and CORS allow them)", async () => {
		const browser = await launchPersistentChromium({ width: 1280, height: 860 });
		try {
			const page = await browser.context.newPage();
			const problems: string[] = [];
			page.on("pageerror", err => problems.push(err.message));
			page.on("console", msg => {
				if (msg.type() === "error") problems.push(msg.text());
			});
			await page.goto(`${wwwUrl}/#/sign-in`);
			await page.getByRole("heading", { level: 1 }).first().waitFor();
			// The stylesheet applied: the header is laid out by it, not by the browser's defaults.
			expect(await page.evaluate('getComputedStyle(document.querySelector(".app-header")).display')).toBe("flex");
			expect(cdn.requests().filter(r => r.startsWith("GET /assets/"))).toHaveLength(2);
			expect(problems).toEqual([]);
		} finally {
			await browser.close();
		}
	});
});
