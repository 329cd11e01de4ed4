import { existsSync } from "node:fs";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import path from "node:path";
import type { ServiceSchema } from "moleculer";
import ApiGateway, { type ApiSettingsSchema } from "moleculer-web";
import { getConfig } from "../src/config";
import { WEB_DIR } from "../src/paths";
import { StaticFiles } from "./www/static-files";

/** What the PWA learns at run time, so one build serves every environment. */
export interface WebConfig {
	apiUrl: string;
}

const config = getConfig();

/** The origin of a URL, or "" when it is not one. */
function originOf(url: string | undefined): string {
	if (!url) return "";
	try {
		return new URL(url).origin;
	} catch {
		return "";
	}
}

/** Where the page may load its scripts and styles from besides itself: the CDN origin, if any. */
const assetOrigin = originOf(config.assetBaseUrl);
const selfAnd = (extra = "") => `'self' ${extra}`.trim();

/** The page's policy: the gateway is the only other place it connects to. */
export const CSP = [
	"default-src 'self'",
	`connect-src ${selfAnd(originOf(config.apiUrl))}`,
	`img-src ${selfAnd(assetOrigin)} data:`,
	`style-src ${selfAnd(assetOrigin)}`,
	`script-src ${selfAnd(assetOrigin)}`,
	"worker-src 'self'",
	"manifest-src 'self'",
	"object-src 'none'",
	"base-uri 'self'",
	"form-action 'self'",
	"frame-ancestors 'none'"
].join("; ");

export interface WwwMethods {
	/** moleculer-web's own. */
	httpHandler(req: IncomingMessage, res: ServerResponse): Promise<void>;
	createServer(): void;
}

export interface WwwLocals {
	files: StaticFiles;
	server: http.Server;
}

/**
 * Serves the built PWA (`dist/web`) on `WWW_PORT`, precompressed and with
 * strong validators (services/www/static-files.ts), and `/config.json` with
 * the gateway's URL. With `ASSET_BASE_URL` the page references its hashed
 * assets on that origin (a CDN pulling them from here).
 */
const WwwService: ServiceSchema<ApiSettingsSchema, WwwMethods, WwwLocals> = {
	name: "www",
	mixins: [ApiGateway],

	settings: {
		port: config.wwwPort,
		ip: "0.0.0.0",
		logRequest: "debug",
		logResponse: "debug",
		logRouteRegistration: "debug",
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

	methods: {
		/** The static files answer first; moleculer-web gets the rest (`/config.json`, 404s). */
		createServer() {
			this.server = http.createServer((req, res) => {
				if (!this.files?.serve(req, res)) void this.httpHandler(req, res);
			});
		}
	},

	created() {
		this.files = new StaticFiles(WEB_DIR, { assetBaseUrl: config.assetBaseUrl, csp: CSP });
	},

	started() {
		if (!existsSync(path.join(WEB_DIR, "index.html"))) {
			this.logger.error(`The PWA is not built (${WEB_DIR} has no index.html): run "npm run build".`);
		}
	}
};

export default WwwService;
