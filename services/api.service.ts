import type { IncomingMessage, ServerResponse } from "node:http";
import type { CallingOptions, Context, Service, ServiceSchema } from "moleculer";
import ApiGateway, { type ApiSettingsSchema, type IncomingRequest } from "moleculer-web";
import { getConfig } from "../src/config";
import { SERVED_BY, type ServedByMeta } from "../src/served-by";
import { describeCluster, RequestCounter, type ClusterView } from "./api/cluster";
import { toErrorBody } from "./api/errors";
import { openApiDocument } from "./api/openapi";
import type { PublicUser, UsersHealth } from "./users/types";

export interface GatewayHealth {
	status: "ok" | "down";
	nodeID: string;
	checks: {
		users: { status: "ok" | "down"; instances: number };
		store: { status: "ok" | "down" | "unknown"; latencyMs: number | null };
	};
}

export interface Hello {
	message: "Hello world";
	service: string;
	nodeID: string;
}

export type { ClusterView };

export interface ApiLocals {
	/** `users` requests per serving node, counted by this gateway. */
	served: RequestCounter;
}

type GatewayMeta = ServedByMeta & { $statusCode?: number; $location?: string };

const config = getConfig();

/** Accepted incoming request IDs: short, printable, safe to log and to echo. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Root call options of every HTTP request: a valid `X-Request-ID` (or
 * `X-Correlation-ID`) becomes the Moleculer `requestID`, so every node's log
 * lines of this request share it; anything else is replaced by a fresh ID.
 */
function requestIdOptions(options: CallingOptions, req: IncomingMessage): void {
	const header = req.headers["x-correlation-id"] ?? req.headers["x-request-id"];
	const candidate = Array.isArray(header) ? header[0] : header;
	options.requestID = candidate && REQUEST_ID.test(candidate) ? candidate : undefined;
}

/** HTTP statuses of successful answers that are not 200. */
const CREATED = "users.register";
const NO_CONTENT = "users.remove";
const HEALTH_ACTIONS = new Set(["api.health", "users.health"]);

const ApiService: ServiceSchema<ApiSettingsSchema, object, ApiLocals> = {
	name: "api",
	mixins: [ApiGateway],

	settings: {
		port: config.port,
		ip: "0.0.0.0",
		rootCallOptions: requestIdOptions as unknown as CallingOptions,
		logRequest: "debug",
		logResponse: "debug",
		logRouteRegistration: "debug",

		routes: [
			{
				name: "rest",
				path: "/",
				mappingPolicy: "restrict",
				autoAliases: false,
				bodyParsers: { json: { strict: true, limit: "100kb" }, urlencoded: false },
				aliases: {
					"GET /": "api.hello",
					"GET /health": "api.health",
					"GET /health/live": "api.live",
					"GET /users/health": "users.health",
					"POST /users": "users.register",
					"GET /users": "users.list",
					"GET /users/:id": "users.get",
					"PATCH /users/:id": "users.update",
					"DELETE /users/:id": "users.remove",
					"GET /cluster": "api.cluster",
					"GET /openapi.json": "api.openapi"
				},

				onAfterCall(
					this: Service & ApiLocals,
					ctx: Context<unknown, GatewayMeta>,
					_route: unknown,
					req: IncomingRequest,
					res: ServerResponse,
					data: unknown
				) {
					const action = req.$action.name ?? "";
					if (action.startsWith("users.")) {
						const servedBy = ctx.meta[SERVED_BY] ?? this.broker.nodeID;
						this.served.add(servedBy);
						if (config.servedByHeader) res.setHeader("X-Served-By", servedBy);
					}
					if (action === CREATED) {
						ctx.meta.$statusCode = 201;
						ctx.meta.$location = `/users/${(data as PublicUser).id}`;
					} else if (action === NO_CONTENT) {
						ctx.meta.$statusCode = 204;
					} else if (HEALTH_ACTIONS.has(action)) {
						if ((data as GatewayHealth | UsersHealth).status !== "ok") ctx.meta.$statusCode = 503;
					}
					return data;
				}
			}
		],

		onError(this: Service & ApiLocals, req: IncomingRequest, res: ServerResponse, err: Error) {
			const body = toErrorBody(err, config.production);
			if (body.code >= 500) {
				this.logger.error(`${req.method} ${req.originalUrl ?? req.url} -> ${body.code}`, err.message);
			}
			const meta = req.$ctx?.meta as GatewayMeta | undefined;
			if (meta?.[SERVED_BY] && req.$action?.name?.startsWith("users.")) {
				this.served.add(meta[SERVED_BY]);
				if (config.servedByHeader) res.setHeader("X-Served-By", meta[SERVED_BY]);
			}
			res.setHeader("Content-Type", "application/json; charset=utf-8");
			res.writeHead(body.code);
			res.end(JSON.stringify(body));
		}
	},

	actions: {
		/** The greeting of the seed's gateway, with which node answered. */
		hello: {
			handler(): Hello {
				return {
					message: "Hello world",
					service: "rncp-api-gateway",
					nodeID: this.broker.nodeID
				};
			}
		},

		/** 200 when a users instance and its store answer; `status: "down"` (503) otherwise. */
		health: {
			async handler(ctx: Context): Promise<GatewayHealth> {
				const instances = this.broker.registry
					.getServiceList({ onlyAvailable: true, skipInternal: true })
					.filter(s => s.name === "users").length;
				const checks: GatewayHealth["checks"] = {
					users: { status: instances > 0 ? "ok" : "down", instances },
					store: { status: "unknown", latencyMs: null }
				};
				if (instances > 0) {
					try {
						const users = await ctx.call<UsersHealth, object>("users.health", {}, { timeout: 2000 });
						checks.store = {
							status: users.store.reachable ? "ok" : "down",
							latencyMs: users.store.latencyMs
						};
					} catch {
						checks.users.status = "down";
					}
				}
				const ok = checks.users.status === "ok" && checks.store.status === "ok";
				return { status: ok ? "ok" : "down", nodeID: this.broker.nodeID, checks };
			}
		},

		/** 200 while the process runs: no dependency is checked. */
		live: {
			handler(): { status: "ok"; nodeID: string } {
				return { status: "ok", nodeID: this.broker.nodeID };
			}
		},

		/** Every node with its services, load, and the users requests each served (the admin dashboard). */
		cluster: {
			params: { $$strict: true },
			handler(ctx: Context): Promise<ClusterView> {
				return describeCluster(ctx, this.broker);
			}
		},

		/** This gateway's count of users requests per serving node; `api.cluster` sums every gateway's. */
		requestCounts: {
			visibility: "public",
			handler(): Record<string, number> {
				return this.served.snapshot();
			}
		},

		/** The OpenAPI 3.1 description of the routes above. */
		openapi: {
			handler(): object {
				return openApiDocument(ApiService);
			}
		}
	},

	created() {
		this.served = new RequestCounter();
	}
};

export default ApiService;
