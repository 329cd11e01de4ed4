import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from "node:zlib";
import { acceptedEncodings, rebaseAssets, StaticFiles } from "../../services/www/static-files";
import { ROOT, startNode, uniqueNamespace, type NodeProcess } from "../support/node-process";
import { freePort, waitFor } from "../support/redis-server";
import { buildWeb } from "../support/web-build";

interface Raw {
	status: number;
	headers: IncomingHttpHeaders;
	/** The bytes on the wire, never decoded. */
	body: Buffer;
}

/** One request with node:http, so the body is exactly what was sent (fetch would decode it). */
function raw(url: string, headers: Record<string, string> = {}, method = "GET"): Promise<Raw> {
	return new Promise((resolve, reject) => {
		const req = request(url, { method, headers }, res => {
			const chunks: Buffer[] = [];
			res.on("data", (c: Buffer) => chunks.push(c));
			res.on("end", () =>
				resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) })
			);
		});
		req.on("error", reject);
		req.end();
	});
}

function decode(res: Raw): string {
	const enc = res.headers["content-encoding"];
	const bytes = enc === "br" ? brotliDecompressSync(res.body) : enc === "gzip" ? gunzipSync(res.body) : res.body;
	return bytes.toString("utf8");
}

const CSP = "default-src 'self'";
const SCRIPT = `console.log(${JSON.stringify("x".repeat(2000))});\n`;
const PAGE =
	'<!doctype html><html><head><script type="module" crossorigin src="/assets/app-abc123.js"></script>' +
	'<link rel="stylesheet" crossorigin href="/assets/app-abc123.css"></head><body>' +
	"<p>".repeat(200) +
	"</body></html>\n";

/** A build like vite's: files with brotli and gzip twins, one twin bigger than its file, a PNG without. */
function fakeBuild(): string {
	const dir = mkdtempSync(path.join(tmpdir(), "rncp-www-"));
	mkdirSync(path.join(dir, "assets"));
	const write = (rel: string, body: Buffer | string) => writeFileSync(path.join(dir, rel), body);
	for (const [rel, body] of [
		["index.html", PAGE],
		["assets/app-abc123.js", SCRIPT],
		["assets/app-abc123.css", "body{margin:0}\n".repeat(100)]
	] as const) {
		write(rel, body);
		write(`${rel}.br`, brotliCompressSync(body));
		write(`${rel}.gz`, gzipSync(body));
	}
	write("tiny.txt", "hi");
	write("tiny.txt.gz", gzipSync("hi")); // 22 bytes for 2: never served
	write("icon.png", Buffer.from([0x89, 0x50, 0x4e, 0x47]));
	return dir;
}

/** An HTTP server answering from `files`, and 404 `fallthrough` for what they do not serve. */
function serveFiles(files: StaticFiles): Promise<{ server: Server; url: string }> {
	const server = createServer((req, res) => {
		if (!files.serve(req, res)) res.writeHead(404).end("fallthrough");
	});
	return new Promise(resolve =>
		server.listen(0, "127.0.0.1", () =>
			resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })
		)
	);
}

describe("acceptedEncodings", () => {
	it.each([
		[undefined, ["identity"]],
		["gzip, deflate, br, zstd", ["identity", "br", "gzip"]],
		["gzip;q=0.5, br;q=0", ["identity", "gzip"]],
		["*", ["identity", "br", "gzip"]],
		["*;q=0, identity", ["identity"]],
		["x-gzip", ["identity", "gzip"]]
	])("reads %j", (header, expected) => {
		expect([...acceptedEncodings(header)].sort()).toEqual([...expected].sort());
	});
});

describe("rebaseAssets", () => {
	it("moves only /assets/ references to the base, without a double slash", () => {
		expect(rebaseAssets(PAGE, "https://cdn.example.test/rncp/")).toContain(
			'src="https://cdn.example.test/rncp/assets/app-abc123.js"'
		);
		expect(rebaseAssets('<link rel="manifest" href="/manifest.webmanifest">', "https://cdn.example.test")).toBe(
			'<link rel="manifest" href="/manifest.webmanifest">'
		);
	});
});

describe("StaticFiles (precompressed, strong validators)", () => {
	let dir: string;
	let server: Server;
	let url: string;

	beforeAll(async () => {
		dir = fakeBuild();
		({ server, url } = await serveFiles(new StaticFiles(dir, { csp: CSP })));
	});

	afterAll(async () => {
		await new Promise(resolve => server.close(resolve));
		rmSync(dir, { recursive: true, force: true });
	});

	it.each([
		["br, gzip", "br", brotliCompressSync(SCRIPT).length],
		["gzip", "gzip", gzipSync(SCRIPT).length],
		["identity", undefined, Buffer.byteLength(SCRIPT)],
		["br;q=0, gzip;q=0", undefined, Buffer.byteLength(SCRIPT)]
	])("answers Accept-Encoding %j with %s, the build's bytes and Vary", async (accept, encoding, length) => {
		const res = await raw(`${url}/assets/app-abc123.js`, { "accept-encoding": accept });
		expect(res.status).toBe(200);
		expect(res.headers["content-encoding"]).toBe(encoding);
		expect(res.headers.vary).toBe("Accept-Encoding");
		expect(res.body.length).toBe(length);
		expect(Number(res.headers["content-length"])).toBe(length);
		expect(decode(res)).toBe(SCRIPT);
		expect(res.headers["content-type"]).toBe("text/javascript; charset=utf-8");
		expect(res.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
		expect(res.headers["access-control-allow-origin"]).toBe("*");
	});

	it("gives each representation its own strong ETag and answers If-None-Match with 304", async () => {
		const br = await raw(`${url}/assets/app-abc123.js`, { "accept-encoding": "br" });
		const gz = await raw(`${url}/assets/app-abc123.js`, { "accept-encoding": "gzip" });
		const plain = await raw(`${url}/assets/app-abc123.js`);
		const tags = [br, gz, plain].map(r => r.headers.etag as string);
		for (const tag of tags) expect(tag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
		expect(new Set(tags).size).toBe(3);

		const again = await raw(`${url}/assets/app-abc123.js`, { "accept-encoding": "br", "if-none-match": tags[0] });
		expect(again.status).toBe(304);
		expect(again.body.length).toBe(0);
		expect(again.headers.etag).toBe(tags[0]);
		expect(again.headers.vary).toBe("Accept-Encoding");
		// A validator of another representation does not validate this one.
		const other = await raw(`${url}/assets/app-abc123.js`, { "accept-encoding": "br", "if-none-match": tags[1] });
		expect(other.status).toBe(200);
		expect(other.headers["content-encoding"]).toBe("br");
		// The page too: revalidated on each load, a 304 while unchanged.
		const page = await raw(`${url}/`, { "accept-encoding": "gzip" });
		const page304 = await raw(`${url}/`, {
			"accept-encoding": "gzip",
			"if-none-match": `"x", ${page.headers.etag}`
		});
		expect(page304.status).toBe(304);
	});

	it("serves the page with no-cache and its CSP; HEAD has the headers and no body", async () => {
		const head = await raw(`${url}/`, { "accept-encoding": "br" }, "HEAD");
		expect(head.status).toBe(200);
		expect(head.body.length).toBe(0);
		expect(head.headers).toMatchObject({
			"content-type": "text/html; charset=utf-8",
			"content-encoding": "br",
			"cache-control": "no-cache",
			"content-security-policy": CSP,
			"x-frame-options": "DENY"
		});
		const get = await raw(`${url}/index.html`);
		expect(decode(get)).toBe(PAGE);
	});

	it("never sends a twin that is bigger than its file, nor Vary for a file without twins", async () => {
		const tiny = await raw(`${url}/tiny.txt`, { "accept-encoding": "gzip" });
		expect(tiny.headers["content-encoding"]).toBeUndefined();
		expect(tiny.body.toString()).toBe("hi");
		expect(tiny.headers.vary).toBeUndefined();
		const png = await raw(`${url}/icon.png`, { "accept-encoding": "br, gzip" });
		expect(png.headers["content-encoding"]).toBeUndefined();
		expect(png.headers["cache-control"]).toBe("public, max-age=86400");
	});

	it("leaves unknown paths, other methods and the compressed files' own names to the next handler", async () => {
		for (const [p, method] of [
			["/nope.js", "GET"],
			["/config.json", "GET"],
			["/assets/app-abc123.js.br", "GET"],
			["/", "POST"],
			["/%E0%A4%A", "GET"]
		]) {
			const res = await raw(`${url}${p}`, {}, method);
			expect([p, res.status, res.body.toString()]).toEqual([p, 404, "fallthrough"]);
		}
	});

	it("with an asset base URL, points the page (and its twins) at it", async () => {
		const cdn = await serveFiles(new StaticFiles(dir, { csp: CSP, assetBaseUrl: "https://cdn.example.test" }));
		try {
			const expected = rebaseAssets(PAGE, "https://cdn.example.test");
			for (const accept of ["br", "gzip", "identity"]) {
				expect(decode(await raw(`${cdn.url}/`, { "accept-encoding": accept }))).toBe(expected);
			}
			// The assets themselves stay here too: the CDN pulls them from this origin.
			expect(decode(await raw(`${cdn.url}/assets/app-abc123.js`, { "accept-encoding": "br" }))).toBe(SCRIPT);
		} finally {
			await new Promise(resolve => cdn.server.close(resolve));
		}
	});
});

describe("the www node (real process, the real build)", () => {
	const WEB = path.join(ROOT, "dist", "web");
	const CDN = "https://cdn.example.test";
	let plain: { node: NodeProcess; url: string };
	let withCdn: { node: NodeProcess; url: string };

	async function startWww(env: Record<string, string>): Promise<{ node: NodeProcess; url: string }> {
		const port = await freePort();
		const namespace = uniqueNamespace("www");
		const node = startNode({
			services: "www",
			nodeID: `${namespace}-www`,
			env: { NAMESPACE: namespace, WWW_PORT: String(port), API_URL: "http://api.example.test", ...env }
		});
		const url = `http://127.0.0.1:${port}`;
		await waitFor(() => raw(`${url}/config.json`).then(r => r.status === 200), { what: `www on ${url}` });
		return { node, url };
	}

	beforeAll(async () => {
		// The PWA build (vite) is not part of the server build the global setup makes.
		if (!existsSync(path.join(WEB, "index.html.br"))) buildWeb();
		[plain, withCdn] = await Promise.all([startWww({}), startWww({ ASSET_BASE_URL: CDN })]);
	}, 60_000);

	afterAll(() => Promise.all([plain, withCdn].map(w => w?.node.stop())));

	it("sends the built script brotli-compressed, as built, cached a year", async () => {
		const html = readFileSync(path.join(WEB, "index.html"), "utf8");
		const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1] as string;
		const res = await raw(`${plain.url}${script}`, { "accept-encoding": "gzip, deflate, br" });
		expect(res.status).toBe(200);
		expect(res.headers["content-encoding"]).toBe("br");
		expect(res.headers.vary).toBe("Accept-Encoding");
		expect(res.body.equals(readFileSync(path.join(WEB, `${script}.br`)))).toBe(true);
		expect(res.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
		const again = await raw(`${plain.url}${script}`, {
			"accept-encoding": "gzip, deflate, br",
			"if-none-match": res.headers.etag as string
		});
		expect(again.status).toBe(304);
	});

	it("keeps /config.json and 404s with moleculer-web", async () => {
		const config = await raw(`${plain.url}/config.json`);
		expect(config.status).toBe(200);
		expect(JSON.parse(config.body.toString())).toEqual({ apiUrl: "http://api.example.test" });
		expect(config.headers["cache-control"]).toBe("no-cache");
		expect((await raw(`${plain.url}/missing.js`)).status).toBe(404);
	});

	it("without ASSET_BASE_URL, references the assets on itself and allows only itself", async () => {
		const page = await raw(`${plain.url}/`);
		expect(page.body.toString()).toMatch(/src="\/assets\//);
		const csp = page.headers["content-security-policy"] as string;
		expect(csp).toContain("script-src 'self';");
		expect(csp).toContain("style-src 'self';");
		expect(csp).toContain("connect-src 'self' http://api.example.test;");
	});

	it("with ASSET_BASE_URL, references the hashed assets on the CDN, allows it in the CSP, keeps the rest here", async () => {
		const page = await raw(`${withCdn.url}/`, { "accept-encoding": "br" });
		expect(page.headers["content-encoding"]).toBe("br");
		const html = decode(page);
		expect(html).toMatch(new RegExp(`src="${CDN}/assets/[^"]+\\.js"`));
		expect(html).toMatch(new RegExp(`href="${CDN}/assets/[^"]+\\.css"`));
		expect(html).not.toMatch(/="\/assets\//);
		expect(html).toContain('href="/manifest.webmanifest"');
		const csp = page.headers["content-security-policy"] as string;
		expect(csp).toContain(`script-src 'self' ${CDN};`);
		expect(csp).toContain(`style-src 'self' ${CDN};`);
		expect(csp).toContain("connect-src 'self' http://api.example.test;");
		// The CDN's origin pull: the same hashed files, with CORS for the page's crossorigin loads.
		const script = new RegExp(`src="${CDN}(/assets/[^"]+\\.js)"`).exec(html)?.[1] as string;
		const pulled = await raw(`${withCdn.url}${script}`, { "accept-encoding": "br" });
		expect(pulled.status).toBe(200);
		expect(pulled.headers["access-control-allow-origin"]).toBe("*");
		expect(JSON.parse((await raw(`${withCdn.url}/config.json`)).body.toString())).toEqual({
			apiUrl: "http://api.example.test"
		});
	});
});
