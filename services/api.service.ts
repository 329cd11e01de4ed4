import http, { type IncomingMessage, type ServerResponse } from "node:http";
import compression from "compression";
import helmet from "helmet";
import type { CallingOptions, Context, Service, ServiceSchema } from "moleculer";
import ApiGateway, { type ApiRouteSchema, type ApiSettingsSchema, type IncomingRequest } from "moleculer-web";
import { getConfig } from "../src/config";
import { SERVED_BY, type ServedByMeta } from "../src/served-by";
import { authCacheMixin, type AuthCacheLocals } from "./api/auth-cache";
import { describeCluster, RequestCounter, type ClusterView } from "./api/cluster";
import { isDraining } from "./api/drain";
import { toErrorBody } from "./api/errors";
import {
	accessLog,
	clientAddressResolver,
	rejectUnsafeKeys,
	requireJsonBody,
	runMiddlewares,
	type ConnectMiddleware
} from "./api/http";
import { HttpMetricsMixin } from "./api/http-metrics";
import { idempotent } from "./api/idempotency";
import { openApiDocument } from "./api/openapi";
import { rateLimitStore } from "./api/rate-limit-store";
import { GatewayResilienceMixin, idempotencyStoreOf } from "./api/resilience";
import { TokenService } from "./api/tokens";
import { email as emailRule } from "./users/rules";
import type { Actor } from "./users/policy";
import type { AuthState, Credentials, PublicUser, UsersHealth } from "./users/types";

export interface GatewayHealth {
	status: "ok" | "down";
	nodeID: string;
	/** Present while this gateway stops: it takes no new connection. */
	draining?: true;
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

/** What `POST /auth/login` answers. */
export interface LoginResult {
	token: string;
	tokenType: "Bearer";
	/** Seconds until the token expires. */
	expiresIn: number;
	user: PublicUser;
}

export interface ApiLoginParams {
	email: string;
	password: string;
}

/** `ctx.meta` of a gateway request. */
export type GatewayMeta = ServedByMeta & { user?: Actor; $statusCode?: number; $location?: string };

export interface ApiMethods {
	authenticate(ctx: Context<unknown, GatewayMeta>, route: unknown, req: IncomingRequest): Promise<Actor>;
	authorize(ctx: Context<unknown, GatewayMeta>, route: unknown, req: IncomingRequest): void;
	createServer(): void;
	/** moleculer-web's own. */
	httpHandler(req: IncomingMessage, res: ServerResponse): Promise<void>;
	sendError(req: IncomingMessage, res: ServerResponse, err: unknown): void;
}

export type { ClusterView };

export interface ApiLocals extends AuthCacheLocals {
	tokens: TokenService;
	/** Requests served by each users node, counted by this gateway (the dashboard's spread). */
	served: RequestCounter;
	server: http.Server;
	routes: { rateLimit?: { store?: { close?: () => void } } }[];
}

const config = getConfig();
const { UnAuthorizedError, ForbiddenError, ERR_NO_TOKEN, ERR_INVALID_TOKEN } = ApiGateway.Errors;

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

const clientAddress = clientAddressResolver(config.trustProxy);

/**
 * Per-client limits, one count per budget `name` across the routes that share
 * it; in Redis when there is one, so every gateway shares them.
 */
function rateLimit(name: string, limit: number): ApiRouteSchema["rateLimit"] {
	return {
		window: config.rateLimit.windowMs,
		limit,
		headers: true,
		key: clientAddress,
		StoreFactory: rateLimitStore({ url: config.redisUrl, keyPrefix: config.redisKeyPrefix, name }) as never
	};
}

const jsonBody = { json: { strict: true, limit: "100kb" }, urlencoded: false };

/** HTTP meaning of some successful answers. */
const CREATED = "users.register";
const NO_CONTENT = "users.remove";
const HEALTH_ACTIONS = new Set(["api.health", "users.health"]);
const SERVED_BY_ACTIONS = /^users\.|^api\.(me|login)$/;

function onAfterCall(
	this: Service & Pick<ApiLocals, "served">,
	ctx: Context<unknown, GatewayMeta>,
	_route: unknown,
	req: IncomingRequest,
	res: ServerResponse,
	data: unknown
) {
	const action = req.$action.name ?? "";
	if (SERVED_BY_ACTIONS.test(action)) {
		const servedBy = ctx.meta[SERVED_BY] ?? this.broker.nodeID;
		this.served.add(servedBy);
		if (config.servedByHeader) res.setHeader("X-Served-By", servedBy);
	}
	if (action === CREATED) {
		ctx.meta.$statusCode = 201;
		ctx.meta.$location = `/users/${(data as PublicUser).id}`;
	} else if (action === NO_CONTENT) {
		ctx.meta.$statusCode = 204;
	} else if (HEALTH_ACTIONS.has(action) && (data as GatewayHealth | UsersHealth).status !== "ok") {
		ctx.meta.$statusCode = 503;
	}
	return data;
}

const ApiService: ServiceSchema<ApiSettingsSchema, ApiMethods, ApiLocals> = {
	name: "api",
	mixins: [ApiGateway, GatewayResilienceMixin, HttpMetricsMixin, authCacheMixin({ max: 10_000, ttlMs: 10_000 })],

	settings: {
		port: config.port,
		ip: "0.0.0.0",
		rootCallOptions: requestIdOptions as unknown as CallingOptions,
		// The access log below replaces moleculer-web's request lines; params are never logged.
		logRequest: null,
		logResponse: null,
		logRequestParams: null,
		logResponseData: null,
		logRouteRegistration: "debug",

		cors: {
			origin: config.corsOrigins,
			methods: ["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
			allowedHeaders: ["Authorization", "Content-Type", "X-Request-ID", "Idempotency-Key"],
			exposedHeaders: [
				"X-Request-ID",
				"X-Served-By",
				"Location",
				"Retry-After",
				"X-Rate-Limit-Limit",
				"X-Rate-Limit-Remaining",
				"X-Rate-Limit-Reset"
			],
			credentials: false,
			maxAge: 600
		},

		routes: [
			{
				name: "health",
				path: "/",
				mappingPolicy: "restrict",
				bodyParsers: false,
				aliases: {
					"GET /": "api.hello",
					"GET /health": "api.health",
					"GET /health/live": "api.live",
					"GET /users/health": "users.health",
					"GET /openapi.json": "api.openapi"
				},
				onAfterCall
			},
			{
				name: "login",
				path: "/",
				mappingPolicy: "restrict",
				bodyParsers: jsonBody,
				use: [requireJsonBody, rejectUnsafeKeys],
				rateLimit: rateLimit("login", config.rateLimit.loginMax),
				aliases: { "POST /auth/login": "api.login" },
				onAfterCall
			},
			{
				name: "public",
				path: "/",
				mappingPolicy: "restrict",
				bodyParsers: jsonBody,
				use: [requireJsonBody, rejectUnsafeKeys],
				rateLimit: rateLimit("global", config.rateLimit.max),
				aliases: { "POST /users": [idempotent(idempotencyStoreOf), "users.register"] },
				onAfterCall
			},
			{
				name: "authenticated",
				path: "/",
				mappingPolicy: "restrict",
				authentication: true,
				bodyParsers: jsonBody,
				use: [requireJsonBody, rejectUnsafeKeys],
				rateLimit: rateLimit("global", config.rateLimit.max),
				aliases: {
					"GET /auth/me": "api.me",
					"GET /users": "users.list",
					"GET /users/:id": "users.get",
					"PATCH /users/:id": "users.update",
					"DELETE /users/:id": "users.remove"
				},
				onAfterCall
			},
			{
				name: "admin",
				path: "/",
				mappingPolicy: "restrict",
				authentication: true,
				authorization: true,
				bodyParsers: false,
				rateLimit: rateLimit("global", config.rateLimit.max),
				aliases: { "GET /cluster": "api.cluster" },
				onAfterCall
			}
		],

		onError(this: Service & Pick<ApiLocals, "served">, req: IncomingRequest, res: ServerResponse, err: Error) {
			const body = toErrorBody(err, config.production);
			if (body.code >= 500) {
				this.logger.error(
					{
						requestID: req.$ctx?.requestID,
						method: req.method,
						path: req.originalUrl ?? req.url,
						status: body.code
					},
					"Request failed:",
					err
				);
			}
			const meta = req.$ctx?.meta as GatewayMeta | undefined;
			if (meta?.[SERVED_BY] && SERVED_BY_ACTIONS.test(req.$action?.name ?? "")) {
				this.served.add(meta[SERVED_BY]);
				if (config.servedByHeader) res.setHeader("X-Served-By", meta[SERVED_BY]);
			}
			if (body.code === 401) {
				res.setHeader("WWW-Authenticate", body.type === "NO_TOKEN" ? "Bearer" : 'Bearer error="invalid_token"');
			}
			if (body.code === 429) {
				const resetTime = (req.$route as { rateLimit?: { store?: { resetTime?: number } } } | undefined)
					?.rateLimit?.store?.resetTime;
				res.setHeader(
					"Retry-After",
					String(Math.max(1, Math.ceil(((resetTime ?? Date.now()) - Date.now()) / 1000)))
				);
			}
			if (body.code === 503) res.setHeader("Retry-After", "5");
			res.setHeader("Content-Type", "application/json; charset=utf-8");
			res.writeHead(body.code);
			res.end(JSON.stringify(body));
		}
	},

	actions: {
		/** The greeting of the seed's gateway, with which node answered. */
		hello: {
			handler(): Hello {
				return { message: "Hello world", service: "rncp-api-gateway", nodeID: this.broker.nodeID };
			}
		},

		/** 200 when a users instance and its store answer; `status: "down"` (503) otherwise and while draining. */
		health: {
			async handler(ctx: Context): Promise<GatewayHealth> {
				const instances = this.broker.registry
					.getServiceList({ onlyAvailable: true, skipInternal: true })
					.filter(s => s.name === "users").length;
				const checks: GatewayHealth["checks"] = {
					users: { status: instances > 0 ? "ok" : "down", instances },
					store: { status: "unknown", latencyMs: null }
				};
				if (isDraining(this)) return { status: "down", nodeID: this.broker.nodeID, draining: true, checks };
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

		/** Signs a token for valid credentials; 401 INVALID_CREDENTIALS for an unknown email or a wrong password alike. */
		login: {
			params: {
				$$strict: true,
				email: emailRule,
				password: { type: "string", min: 1, max: 128 }
			},
			async handler(ctx: Context<ApiLoginParams, GatewayMeta>): Promise<LoginResult> {
				const { user, tokenVersion } = await ctx.call<Credentials, ApiLoginParams>(
					"users.verifyCredentials",
					ctx.params
				);
				const { token, expiresIn } = this.tokens.sign({ sub: user.id, role: user.role, ver: tokenVersion });
				return { token, tokenType: "Bearer", expiresIn, user };
			}
		},

		/** The caller's own user. */
		me: {
			handler(ctx: Context<unknown, GatewayMeta>): Promise<PublicUser> {
				return ctx.call<PublicUser, { id: string }>("users.get", { id: (ctx.meta.user as Actor).id });
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

	methods: {
		/**
		 * Bearer token → `ctx.meta.user`. The token must verify (HS256, expiry) and
		 * still match the user's token version, from this gateway's auth-state
		 * cache, else `users.authState`: deleted users and changed passwords end
		 * old tokens on every gateway at once (services/api/auth-cache.ts).
		 */
		async authenticate(ctx: Context<unknown, GatewayMeta>, _route: unknown, req: IncomingRequest): Promise<Actor> {
			const header = req.headers.authorization;
			if (!header) throw new UnAuthorizedError(ERR_NO_TOKEN, null);
			const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/i.exec(header);
			const claims = match ? this.tokens.verify(match[1]) : null;
			if (!claims) throw new UnAuthorizedError(ERR_INVALID_TOKEN, null);
			const state = await this.authCache.get(claims.sub, () =>
				ctx.call<AuthState | null, { id: string }>("users.authState", { id: claims.sub })
			);
			if (!state || state.tokenVersion !== claims.ver) throw new UnAuthorizedError(ERR_INVALID_TOKEN, null);
			return { id: state.id, role: state.role };
		},

		/** The admin route's rule. */
		authorize(ctx: Context<unknown, GatewayMeta>) {
			if (ctx.meta.user?.role !== "admin") throw new ForbiddenError("FORBIDDEN", null);
		},

		/**
		 * moleculer-web's server, with what applies to every answer (404s and
		 * errors included) in front: access log, security headers, compression.
		 */
		createServer() {
			const log = (entry: Record<string, unknown>) => this.logger.info(entry, "access");
			const front = [
				accessLog(log, clientAddress),
				helmet({ crossOriginResourcePolicy: { policy: "same-site" } }),
				// @types/compression types express requests; it only uses node's.
				compression({ threshold: 1024 }) as unknown as ConnectMiddleware
			];
			this.server = http.createServer((req, res) =>
				runMiddlewares(
					front,
					req,
					res,
					() => this.httpHandler(req, res),
					err => this.sendError(req, res, err)
				)
			);
			this.server.requestTimeout = this.settings.requestTimeout;
			this.server.headersTimeout = 10_000;
		}
	},

	created() {
		this.tokens = new TokenService(config.jwt.secret, config.jwt.expiresIn);
		this.served = new RequestCounter();
	},

	stopped() {
		for (const route of this.routes ?? []) route.rateLimit?.store?.close?.();
	}
};

export default ApiService;
