/// <reference lib="webworker" />
/**
 * The service worker: the app shell (page, scripts, styles, icons) is cached
 * at install, so the app opens without a network; the page itself,
 * `/config.json` and API reads
 * go to the network first and fall back to their last copy, marked so the app
 * can say the data is not live; writes are never answered from a cache.
 */

declare const self: ServiceWorkerGlobalScope;
export {};

/** Replaced at build by the list of the app shell's files (web/build/pwa-plugin.ts). */
const BUILD = JSON.parse("__PWA_BUILD__") as { version: string; shell: string[] };

const SHELL_CACHE = `rncp-shell-${BUILD.version}`;
/** Last good answers of API reads; the app empties it on sign-out. */
const DATA_CACHE = "rncp-data";
const CONFIG_CACHE = "rncp-config";
/** Header set on an answer taken from `DATA_CACHE` because the network failed. */
const OFFLINE_HEADER = "X-Served-From-Cache";

self.addEventListener("install", event => {
	event.waitUntil(
		Promise.all([
			caches.open(SHELL_CACHE).then(cache => cache.addAll(BUILD.shell)),
			// The page read it before this worker controlled it: keep a copy for offline starts.
			caches.open(CONFIG_CACHE).then(cache => cache.add("/config.json"))
		]).then(() => self.skipWaiting())
	);
});

self.addEventListener("activate", event => {
	event.waitUntil(
		caches
			.keys()
			.then(keys =>
				Promise.all(
					keys.filter(k => k.startsWith("rncp-shell-") && k !== SHELL_CACHE).map(k => caches.delete(k))
				)
			)
			.then(() => self.clients.claim())
	);
});

self.addEventListener("fetch", event => {
	const { request } = event;
	if (request.method !== "GET") return; // writes: straight to the network, never cached
	const url = new URL(request.url);
	const sameOrigin = url.origin === self.location.origin;

	if (request.mode === "navigate") {
		event.respondWith(networkFirst(request, SHELL_CACHE, "/index.html"));
	} else if (sameOrigin && url.pathname === "/config.json") {
		event.respondWith(networkFirst(request, CONFIG_CACHE));
	} else if (sameOrigin) {
		event.respondWith(cacheFirst(request));
	} else if (url.protocol.startsWith("http")) {
		// The gateway, on another origin.
		event.respondWith(networkFirst(request, DATA_CACHE));
	}
});

async function cacheFirst(request: Request): Promise<Response> {
	const cached = await caches.match(request, { ignoreSearch: true });
	return cached ?? fetch(request);
}

/**
 * The network's answer (kept in `cacheName` when it is a 200), else the last
 * kept copy marked with `X-Served-From-Cache`, else `fallback` from the shell.
 */
async function networkFirst(request: Request, cacheName: string, fallback?: string): Promise<Response> {
	try {
		const response = await fetch(request);
		if (response.ok && response.type !== "opaque") {
			const copy = response.clone();
			void caches.open(cacheName).then(cache => cache.put(request, copy));
		}
		return response;
	} catch (err) {
		const cached = (await caches.match(request)) ?? (fallback ? await caches.match(fallback) : undefined);
		if (!cached) throw err;
		if (request.mode === "navigate") return cached;
		const headers = new Headers(cached.headers);
		headers.set(OFFLINE_HEADER, "1");
		return new Response(await cached.blob(), { status: cached.status, statusText: cached.statusText, headers });
	}
}
