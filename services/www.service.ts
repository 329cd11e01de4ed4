import { existsSync } from "node:fs";
import type { ServerResponse } from "node:http";
import path from "node:path";
import type { ServiceSchema } from "moleculer";
import ApiGateway, { type ApiSettingsSchema } from "moleculer-web";
import { getConfig } from "../src/config";
import { WEB_DIR } from "../src/paths";

/** What the PWA learns at run time, so one build serves every environment. */
export interface WebConfig {
	apiUrl: string;
}

const config = getConfig();

/** The gateway's origin: the only place besides itself the page may connect to. */
function apiOrigin(apiUrl: string): string {
	try {
		return new URL(apiUrl).origin;
	} catch {
		return "";
	}
}

const CSP = [
	"default-src 'self'",
	`connect-src 'self' ${apiOrigin(config.apiUrl)}`.trim(),
	"img-src 'self' data:",
	"style-src 'self'",
	"script-src 'self'",
	"worker-src 'self'",
	"manifest-src 'self'",
	"object-src 'none'",
	"base-uri 'self'",
	"form-action 'self'",
	"frame-ancestors 'none'"
].join("; ");

/**
 * Caching of the static files: Vite's hashed assets never change, so they are
 * kept a year; the page, the service worker and the manifest are revalidated
 * on every load so a new build is picked up at once.
 */
function setStaticHeaders(res: ServerResponse, file: string): void {
	const rel = path.relative(WEB_DIR, file).split(path.sep).join("/");
	res.setHeader("X-Content-Type-Options", "nosniff");
	res.setHeader("Referrer-Policy", "no-referrer");
	if (rel.startsWith("assets/")) {
		res.setHeader("Cache-Control", "public, max-age=31536000, immutable");
	} else if (rel.endsWith(".png") || rel.endsWith(".svg")) {
		res.setHeader("Cache-Control", "public, max-age=86400");
	} else {
		res.setHeader("Cache-Control", "no-cache");
	}
	if (rel.endsWith(".html")) {
		res.setHeader("Content-Security-Policy", CSP);
		res.setHeader("X-Frame-Options", "DENY");
	}
	if (rel.endsWith(".webmanifest")) res.setHeader("Content-Type", "application/manifest+json");
}

/** Serves the built PWA (`dist/web`) on `WWW_PORT`, and `/config.json` with the gateway's URL. */
const WwwService: ServiceSchema<ApiSettingsSchema> = {
	name: "www",
	mixins: [ApiGateway],

	settings: {
		port: config.wwwPort,
		ip: "0.0.0.0",
		logRequest: "debug",
		logResponse: "debug",
		logRouteRegistration: "debug",
		assets: {
			folder: WEB_DIR,
			options: { index: "index.html", setHeaders: setStaticHeaders }
		},
		routes: [
			{
				name: "config",
				path: "/",
				mappingPolicy: "restrict",
				aliases: { "GET /config.json": "www.config" },
				onAfterCall(_ctx: unknown, _route: unknown, _req: unknown, res: ServerResponse, data: unknown) {
					res.setHeader("Cache-Control", "no-cache");
					return data;
				}
			}
		]
	},

	actions: {
		/** The runtime configuration of the PWA. */
		config: {
			handler(): WebConfig {
				return { apiUrl: config.apiUrl };
			}
		}
	},

	started() {
		if (!existsSync(path.join(WEB_DIR, "index.html"))) {
			this.logger.error(`The PWA is not built (${WEB_DIR} has no index.html): run "npm run build".`);
		}
	}
};

export default WwwService;
