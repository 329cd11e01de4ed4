import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import { brotliCompressSync, constants as zlib, gzipSync } from "node:zlib";

/**
 * The built PWA, held in memory with the brotli and gzip twins the build made
 * (web/vite.config.ts): each answer is one of them, picked by Accept-Encoding,
 * with a strong ETag per representation. Nothing is compressed per request.
 */

export type Encoding = "br" | "gzip" | "identity";

interface Representation {
	encoding: Encoding;
	body: Buffer;
	etag: string;
}

interface StaticFile {
	/** Best first: brotli, gzip, then the file itself. */
	representations: Representation[];
	headers: Record<string, string>;
}

export interface StaticFilesOptions {
	/** Origin (and path) the page references its hashed assets from; undefined = this server. */
	assetBaseUrl?: string;
	/** Content-Security-Policy of the page. */
	csp: string;
}

const TYPES: Record<string, string> = {
	".html": "text/html; charset=utf-8",
	".js": "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
	".json": "application/json; charset=utf-8",
	".svg": "image/svg+xml",
	".png": "image/png",
	".webmanifest": "application/manifest+json",
	".txt": "text/plain; charset=utf-8"
};

const SUFFIX: Record<Exclude<Encoding, "identity">, string> = { br: ".br", gzip: ".gz" };

/** Strong validator of these bytes: a representation's own, as RFC 9110 wants of strong ETags. */
function etagOf(body: Buffer): string {
	return `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`;
}

/**
 * Caching: Vite's hashed assets never change, so they are kept a year; the
 * page, the service worker and the manifest are revalidated on every load
 * (a 304 when unchanged) so a new build is picked up at once.
 */
function headersFor(rel: string, csp: string): Record<string, string> {
	const headers: Record<string, string> = {
		"Content-Type": TYPES[path.extname(rel)] ?? "application/octet-stream",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy": "no-referrer"
	};
	if (rel.startsWith("assets/")) {
		headers["Cache-Control"] = "public, max-age=31536000, immutable";
		// The page loads them with `crossorigin`: from a CDN origin they need CORS.
		headers["Access-Control-Allow-Origin"] = "*";
	} else if (rel.endsWith(".png") || rel.endsWith(".svg")) {
		headers["Cache-Control"] = "public, max-age=86400";
	} else {
		headers["Cache-Control"] = "no-cache";
	}
	if (rel.endsWith(".html")) {
		headers["Content-Security-Policy"] = csp;
		headers["X-Frame-Options"] = "DENY";
	}
	return headers;
}

function walk(dir: string, base = dir): string[] {
	return readdirSync(dir, { withFileTypes: true }).flatMap(entry => {
		const full = path.join(dir, entry.name);
		return entry.isDirectory() ? walk(full, base) : [path.relative(base, full).split(path.sep).join("/")];
	});
}

/** The page with its `/assets/…` references moved to `base`. */
export function rebaseAssets(html: string, base: string): string {
	return html.replace(/(\s(?:src|href)=")\/assets\//g, `$1${base.replace(/\/+$/, "")}/assets/`);
}

/** Encodings the client accepts, from `Accept-Encoding` (q=0 refuses one; `*` stands for the rest). */
export function acceptedEncodings(header: string | undefined): Set<Encoding> {
	const accepted = new Set<Encoding>(["identity"]);
	const q = new Map<string, number>();
	for (const part of (header ?? "").split(",")) {
		const [name, ...params] = part.trim().toLowerCase().split(";");
		if (!name) continue;
		const qParam = params.map(p => p.trim()).find(p => p.startsWith("q="));
		const value = qParam ? Number(qParam.slice(2)) : 1;
		q.set(name === "x-gzip" ? "gzip" : name, Number.isFinite(value) ? value : 0);
	}
	for (const encoding of ["br", "gzip", "identity"] as const) {
		const value = q.get(encoding) ?? q.get("*");
		if (value === undefined) continue;
		if (value > 0) accepted.add(encoding);
		else accepted.delete(encoding);
	}
	return accepted;
}

/** Whether `If-None-Match` names this ETag (weak comparison, as RFC 9110 says for it). */
function matches(ifNoneMatch: string, etag: string): boolean {
	if (ifNoneMatch.trim() === "*") return true;
	return ifNoneMatch.split(",").some(tag => tag.trim().replace(/^W\//, "") === etag);
}

export class StaticFiles {
	private readonly files = new Map<string, StaticFile>();

	/** Reads `dir` (the built PWA); an absent folder gives an empty set. */
	constructor(dir: string, opts: StaticFilesOptions) {
		if (!existsSync(dir)) return;
		const names = walk(dir);
		const present = new Set(names);
		for (const rel of names) {
			if (rel.endsWith(".br") || rel.endsWith(".gz")) continue;
			let body = readFileSync(path.join(dir, rel));
			let twins: Partial<Record<Exclude<Encoding, "identity">, Buffer>> = {};
			if (rel === "index.html" && opts.assetBaseUrl) {
				// The only file that differs by deployment: its twins are made once, here.
				body = Buffer.from(rebaseAssets(body.toString("utf8"), opts.assetBaseUrl));
				twins = {
					br: brotliCompressSync(body, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11 } }),
					gzip: gzipSync(body, { level: 9 })
				};
			} else {
				for (const encoding of ["br", "gzip"] as const) {
					const twin = `${rel}${SUFFIX[encoding]}`;
					if (present.has(twin)) twins[encoding] = readFileSync(path.join(dir, twin));
				}
			}
			const representations: Representation[] = [];
			for (const encoding of ["br", "gzip"] as const) {
				const twin = twins[encoding];
				// A twin that saves nothing is not worth a Content-Encoding.
				if (twin && twin.length < body.length) {
					representations.push({ encoding, body: twin, etag: etagOf(twin) });
				}
			}
			representations.push({ encoding: "identity", body, etag: etagOf(body) });
			const headers = headersFor(rel, opts.csp);
			if (representations.length > 1) headers["Vary"] = "Accept-Encoding";
			this.files.set(`/${rel}`, { representations, headers });
		}
	}

	get size(): number {
		return this.files.size;
	}

	/**
	 * Answers a GET or HEAD of a known file (`/` is the page) and returns true;
	 * returns false, touching nothing, for anything else.
	 */
	serve(req: IncomingMessage, res: ServerResponse): boolean {
		if (req.method !== "GET" && req.method !== "HEAD") return false;
		let pathname: string;
		try {
			pathname = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
		} catch {
			return false;
		}
		const file = this.files.get(pathname === "/" ? "/index.html" : pathname);
		if (!file) return false;

		const accepted = acceptedEncodings(req.headers["accept-encoding"]);
		const chosen =
			file.representations.find(r => accepted.has(r.encoding)) ??
			file.representations[file.representations.length - 1];
		for (const [name, value] of Object.entries(file.headers)) res.setHeader(name, value);
		res.setHeader("ETag", chosen.etag);

		const ifNoneMatch = req.headers["if-none-match"];
		if (ifNoneMatch && matches(ifNoneMatch, chosen.etag)) {
			res.removeHeader("Content-Type");
			res.writeHead(304);
			res.end();
			return true;
		}
		if (chosen.encoding !== "identity") res.setHeader("Content-Encoding", chosen.encoding);
		res.setHeader("Content-Length", chosen.body.length);
		res.writeHead(200);
		res.end(req.method === "HEAD" ? undefined : chosen.body);
		return true;
	}
}
