import type { ServiceSchema } from "moleculer";
import ApiGateway, { type ApiSettingsSchema } from "moleculer-web";
import { getConfig } from "../src/config";
import { PUBLIC_DIR } from "../src/paths";

/** What the PWA learns at run time, so one build serves every environment. */
export interface WebConfig {
	apiUrl: string;
}

const config = getConfig();

/** Serves the PWA (`public/`) on `WWW_PORT`, and `/config.json` with the gateway's URL. */
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
			folder: PUBLIC_DIR,
			options: { index: "index.html", maxAge: "1h" }
		},
		routes: [
			{
				name: "config",
				path: "/",
				mappingPolicy: "restrict",
				aliases: { "GET /config.json": "www.config" }
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
	}
};

export default WwwService;
