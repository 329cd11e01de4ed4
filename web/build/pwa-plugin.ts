import { createHash } from "node:crypto";
import path from "node:path";
import type { Plugin } from "vite";
import { renderPng, renderSvg, THEME_COLOR } from "./icons.ts";

/**
 * Makes the build a PWA without a plugin dependency: emits the icons and the
 * web app manifest, compiles `web/sw/sw.ts` to `/sw.js` and writes into it the
 * list of the app shell's files with a version that changes with them. In
 * `vite dev` it serves the icons, the manifest and `/config.json`.
 */

const ICONS: { file: string; size: number; maskable?: boolean }[] = [
	{ file: "icon-192.png", size: 192 },
	{ file: "icon-512.png", size: 512 },
	{ file: "icon-maskable-512.png", size: 512, maskable: true },
	{ file: "apple-touch-icon.png", size: 180, maskable: true }
];

function manifest(): string {
	return `${JSON.stringify(
		{
			id: "/",
			name: "RNCP — users and cluster",
			short_name: "RNCP",
			description: "Manage the RNCP users and watch the cluster serve them.",
			start_url: "/",
			scope: "/",
			display: "standalone",
			background_color: "#ffffff",
			theme_color: THEME_COLOR,
			icons: [
				{ src: "/icon-192.png", sizes: "192x192", type: "image/png", purpose: "any" },
				{ src: "/icon-512.png", sizes: "512x512", type: "image/png", purpose: "any" },
				{ src: "/icon-maskable-512.png", sizes: "512x512", type: "image/png", purpose: "maskable" },
				{ src: "/icon.svg", sizes: "any", type: "image/svg+xml", purpose: "any" }
			]
		},
		null,
		2
	)}\n`;
}

/** The other files besides the bundle: name → content. */
function staticFiles(): Map<string, string | Buffer> {
	const files = new Map<string, string | Buffer>();
	for (const icon of ICONS) files.set(icon.file, renderPng(icon.size, { maskable: icon.maskable }));
	files.set("icon.svg", renderSvg());
	files.set("manifest.webmanifest", manifest());
	return files;
}

const PLACEHOLDER = /(["'`])__PWA_BUILD__\1/;

export function pwa(opts: { swEntry: string; devApiUrl: () => string }): Plugin {
	return {
		name: "rncp-pwa",

		configureServer(server) {
			const files = staticFiles();
			server.middlewares.use((req, res, next) => {
				const name = (req.url ?? "").split("?")[0].slice(1);
				if (name === "config.json") {
					res.setHeader("Content-Type", "application/json");
					res.end(JSON.stringify({ apiUrl: opts.devApiUrl() }));
					return;
				}
				const body = files.get(name);
				if (!body) return next();
				const ext = path.extname(name);
				res.setHeader(
					"Content-Type",
					ext === ".png" ? "image/png" : ext === ".svg" ? "image/svg+xml" : "application/manifest+json"
				);
				res.end(body);
			});
		},

		buildStart() {
			if (this.meta.watchMode) return;
			this.emitFile({ type: "chunk", id: opts.swEntry, fileName: "sw.js" });
		},

		generateBundle(_options, bundle) {
			for (const [fileName, source] of staticFiles()) {
				this.emitFile({ type: "asset", fileName, source });
			}
			const sw = bundle["sw.js"];
			if (!sw || sw.type !== "chunk") return;

			const shellFiles = Object.keys(bundle)
				.filter(f => f !== "sw.js" && !f.endsWith(".map"))
				.concat([...staticFiles().keys()].filter(f => !(f in bundle)))
				.sort();
			const hash = createHash("sha256");
			for (const f of shellFiles) {
				const item = bundle[f];
				hash.update(f);
				if (item) hash.update(item.type === "chunk" ? item.code : item.source);
			}
			const build = {
				version: hash.digest("hex").slice(0, 12),
				shell: ["/", ...shellFiles.filter(f => f !== "index.html").map(f => `/${f}`), "/index.html"]
			};
			if (!PLACEHOLDER.test(sw.code)) this.error("sw.js: the __PWA_BUILD__ placeholder is missing");
			sw.code = sw.code.replace(PLACEHOLDER, JSON.stringify(JSON.stringify(build)));
		}
	};
}
