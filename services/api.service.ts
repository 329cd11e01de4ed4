import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type {
	ActionHttp,
	CallingOptions,
	Context,
	HttpRouteGroup,
	Service,
	ServiceOpenApi,
	ServiceSchema
} from "moleculer";
import ApiGateway, { type ApiRouteSchema, type ApiSettingsSchema, type IncomingRequest } from "moleculer-web";
import { getConfig, type AppConfig } from "../src/config";
import { CHECK_TIMEOUT_MS } from "../src/health";
import { SERVED_BY, type ServedByMeta } from "../src/served-by";
import { authCacheMixin, type AuthCacheLocals } from "./api/auth-cache";
import { describeCluster, RequestCounter, type ClusterView } from "./api/cluster";
import { isDraining } from "./api/drain";
import { gatewayError } from "./api/errors";
import { clientAddressResolver, runMiddlewares } from "./api/http";
import { HttpMetricsMixin } from "./api/http-metrics";
import { idempotent } from "./api/idempotency";
import type { IdempotencyStore } from "./api/idempotency-store";
import { openApiDocument, type RoutedAction } from "./api/openapi";
import {
	afterCall,
	errorAnswer,
	frontStages,
	httpOf,
	jsonBodyParser,
	rejectUnsafeKeys,
	requestIdOptions,
	requireJsonBody
} from "./api/pipeline";
import { RateLimitBudgets } from "./api/rate-limit-store";
import { GatewayResilienceMixin } from "./api/resilience";
import { bearerToken, TokenService } from "./api/tokens";
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
	/** moleculer-web's own, narrowed to this gateway's routes (see below). */
	regenerateAutoAliases(route: GatewayRoute): void;
	methodsAt(path: string): string[];
	routesIncomplete(): boolean;
	markServedBy(req: IncomingRequest, res: ServerResponse, answered: boolean): void;
	/** moleculer-web's own. */
	httpHandler(req: IncomingMessage, res: ServerResponse): Promise<void>;
	sendError(req: IncomingMessage, res: ServerResponse, err: unknown): void;
}

export type { ClusterView };

/** What the gateway reads, set from the configuration in one place (`gatewaySettings`). */
export interface GatewaySettings extends ApiSettingsSchema {
	production: boolean;
	/** Whether answers name the node that did the work (`X-Served-By`). */
	servedByHeader: boolean;
	corsOrigins: string[];
	/** `proxy-addr` trust list for the client address. */
	trustProxy: string[];
	/** Redis of the rate-limit counters and idempotency answers; none = in memory. */
	redisUrl?: string;
	keyPrefix: string;
	jwt: { secret: string; expiresIn: number };
	limits: { windowMs: number; max: number; loginMax: number };
	/** Services whose routes the gateway serves: while one has no instance, an unknown path is 503, not 404. */
	upstreams: string[];
}

export interface ApiLocals extends AuthCacheLocals {
	tokens: TokenService;
	/** Requests served by each users node, counted by this gateway (the dashboard's spread). */
	served: RequestCounter;
	server: http.Server;
	/** This gateway's rate-limit stores, one per budget, and their one Redis connection. */
	rateLimitBudgets: RateLimitBudgets;
	routes: GatewayRoute[];
	aliases: {
		action?: string;
		method: string;
		fullPath: string;
		route: GatewayRoute;
		match(url: string): unknown;
		_generated?: boolean;
		handler?: unknown;
	}[];
	idempotencyStore?: IdempotencyStore;
	/** Set by drain.ts once the broker stops: `/health` answers 503. */
	draining?: boolean;
	/** Debounced by moleculer-web; `flush` runs a pending regeneration now. */
	regenerateAllAutoAliases: { flush(): void };
}

/** A moleculer-web route as the gateway builds it. */
interface GatewayRoute {
	opts: ApiRouteSchema & { name: HttpRouteGroup };
	whitelist?: string[];
	hasWhitelist?: boolean;
	rateLimit?: { store?: { resetTime?: number } };
}

const { UnAuthorizedError, ERR_NO_TOKEN, ERR_INVALID_TOKEN } = ApiGateway.Errors;

/** Stage 15, on the aliases of actions declaring `idempotencyKey`. */
const idempotencyStage = idempotent(service => (service as Service & Partial<ApiLocals>).idempotencyStore);

/** The gateway's settings from the configuration. */
export function gatewaySettings(config: AppConfig) {
	return {
		port: config.port,
		production: config.production,
		servedByHeader: config.servedByHeader,
		corsOrigins: config.corsOrigins,
		trustProxy: config.trustProxy,
		redisUrl: config.redisUrl,
		keyPrefix: config.redisKeyPrefix,
		jwt: config.jwt,
		limits: config.rateLimit
	} satisfies Partial<GatewaySettings>;
}

/**
 * Per-client limits, one count per budget `name` across the routes that share
 * it; in Redis when there is one, so every gateway shares them.
 */
function rateLimit(
	settings: GatewaySettings,
	budgets: RateLimitBudgets,
	name: string,
	limit: number
): ApiRouteSchema["rateLimit"] {
	return {
		window: settings.limits.windowMs,
		limit,
		headers: true,
		key: clientAddressResolver(settings.trustProxy),
		StoreFactory: budgets.storeFactory(name) as never
	};
}

/**
 * The five routes, one per `http.route` group. Their aliases come from the
 * registry (`autoAliases`): each route keeps the actions that declare its group.
 */
function gatewayRoutes(settings: GatewaySettings, budgets: RateLimitBudgets): ApiRouteSchema[] {
	const common = { path: "/", autoAliases: true, mappingPolicy: "restrict" as const, onAfterCall: afterCall };
	const withBody = { bodyParsers: jsonBodyParser, use: [requireJsonBody, rejectUnsafeKeys] };
	return [
		{ name: "open", ...common, bodyParsers: false },
		{
			name: "login",
			...common,
			...withBody,
			rateLimit: rateLimit(settings, budgets, "login", settings.limits.loginMax)
		},
		{
			name: "public",
			...common,
			...withBody,
			rateLimit: rateLimit(settings, budgets, "global", settings.limits.max)
		},
		{
			name: "authenticated",
			...common,
			...withBody,
			authentication: true,
			rateLimit: rateLimit(settings, budgets, "global", settings.limits.max)
		},
		{
			name: "admin",
			...common,
			bodyParsers: false,
			authentication: true,
			authorization: true,
			rateLimit: rateLimit(settings, budgets, "global", settings.limits.max)
		}
	];
}

/**
 * Exact origins: scheme, host and port must equal an entry (moleculer-web
 * alone would match `https://app.example.co` against `https://app.example.com`).
 */
function originAllowList(origins: string[]): (origin: string) => boolean {
	const allowed = new Set(origins.map(o => normalOrigin(o)).filter(Boolean));
	return origin => allowed.has(normalOrigin(origin));
}

function normalOrigin(origin: string): string {
	try {
		const url = new URL(origin);
		return url.origin === "null" ? "" : url.origin;
	} catch {
		return "";
	}
}

const ApiService: ServiceSchema<GatewaySettings, ApiMethods, ApiLocals> = {
	name: "api",
	mixins: [ApiGateway, GatewayResilienceMixin, HttpMetricsMixin, authCacheMixin({ max: 10_000, ttlMs: 10_000 })],

	settings: {
		// Never announced to the other nodes.
		$secureSettings: ["jwt", "redisUrl"],
		...gatewaySettings(getConfig()),
		// The gateway's own actions are served from the root.
		rest: "/",
		upstreams: ["users"],
		ip: "0.0.0.0",
		rootCallOptions: requestIdOptions as unknown as CallingOptions,
		// The access log replaces moleculer-web's request lines; params are never logged.
		logRequest: null,
		logResponse: null,
		logRequestParams: null,
		logResponseData: null,
		logRouteRegistration: "debug",
		// Route changes of the registry are applied at once (and on the first unknown path).
		debounceTime: 10,

		cors: {
			methods: ["GET", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS"],
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

		onError: errorAnswer
	},

	/** The routes and CORS list are built from the settings, test overrides included. */
	merged(schema) {
		const settings = schema.settings as GatewaySettings;
		this.rateLimitBudgets = new RateLimitBudgets({ url: settings.redisUrl, keyPrefix: settings.keyPrefix });
		settings.routes = gatewayRoutes(settings, this.rateLimitBudgets);
		settings.cors = { ...(settings.cors as object), origin: originAllowList(settings.corsOrigins) as never };
	},

	actions: {
		/** The greeting of the seed's gateway, with which node answered. */
		hello: {
			rest: "GET /",
			http: {
				route: "open",
				summary: "Greeting, with the gateway node that answered",
				tag: "service",
				schema: "Hello"
			},
			handler(): Hello {
				return { message: "Hello world", service: "rncp-api-gateway", nodeID: this.broker.nodeID };
			}
		},

		/** 200 when a users instance and its store answer; `status: "down"` (503) otherwise and while draining. */
		health: {
			rest: "GET /health",
			http: {
				route: "open",
				downStatus: 503,
				summary: "Readiness: a users instance and its store answer",
				description:
					"503 with the same body when a check fails; the body tells which one and how many users instances are up.",
				tag: "service",
				schema: "GatewayHealth"
			},
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
						// A probe wants one quick answer: a retried check would hold `/health` at 200
						// for three timeouts while a users node or its store is cut off.
						const users = await ctx.call<UsersHealth, object>(
							"users.health",
							{},
							{ timeout: CHECK_TIMEOUT_MS, retries: 0 }
						);
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
			rest: "GET /health/live",
			http: { route: "open", summary: "Liveness: the gateway process runs", tag: "service", schema: "Live" },
			handler(): { status: "ok"; nodeID: string } {
				return { status: "ok", nodeID: this.broker.nodeID };
			}
		},

		/** Signs a token for valid credentials; 401 INVALID_CREDENTIALS for an unknown email or a wrong password alike. */
		login: {
			rest: "POST /auth/login",
			http: {
				route: "login",
				servedBy: true,
				summary: "Sign in: a bearer token for an email and password",
				description:
					"401 with the same message for an unknown email and a wrong password. Stricter rate limit.",
				tag: "auth",
				schema: "LoginResult",
				errors: [400, 401, 413, 415, 422]
			},
			// The users service validates and normalises the email (its own rule).
			params: {
				$$strict: true,
				email: { type: "string", min: 1, max: 254 },
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
			rest: "GET /auth/me",
			http: {
				route: "authenticated",
				servedBy: true,
				summary: "The signed-in user",
				tag: "auth",
				schema: "User",
				errors: [401]
			},
			params: { $$strict: true },
			handler(ctx: Context<unknown, GatewayMeta>): Promise<PublicUser> {
				return ctx.call<PublicUser, { id: string }>("users.get", { id: (ctx.meta.user as Actor).id });
			}
		},

		/** Every node with its services, load, and the users requests each served (the admin dashboard). */
		cluster: {
			rest: "GET /cluster",
			http: {
				route: "admin",
				summary: "Nodes, their services, load, and how users requests spread over them",
				tag: "cluster",
				schema: "ClusterView",
				errors: [401, 403]
			},
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

		/** The OpenAPI 3.1 description of the routes this gateway serves now, from the registry. */
		openapi: {
			rest: "GET /openapi.json",
			http: { route: "open", summary: "This document", tag: "service", schema: "OpenApiDocument" },
			params: { $$strict: true },
			handler(): object {
				// Apply a registry change still waiting for moleculer-web's debounce.
				this.regenerateAllAutoAliases.flush();
				const actions = new Map(
					this.broker.registry.getActionList({ skipInternal: true }).map(a => [a.name, a.action])
				);
				const routed: RoutedAction[] = [];
				for (const alias of this.aliases) {
					const action = alias.action ? actions.get(alias.action) : undefined;
					if (action?.http) {
						routed.push({
							method: alias.method,
							path: alias.fullPath,
							action: { ...action, name: alias.action as string }
						});
					}
				}
				const services = this.broker.registry
					.getServiceList({ onlyAvailable: true, skipInternal: true })
					.map(service => (service.metadata as { openapi?: ServiceOpenApi }).openapi)
					.filter(openapi => openapi !== undefined);
				return openApiDocument(routed, services);
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
			const token = bearerToken(req);
			if (token === undefined) throw new UnAuthorizedError(ERR_NO_TOKEN, null);
			const claims = token ? this.tokens.verify(token) : null;
			if (!claims) throw new UnAuthorizedError(ERR_INVALID_TOKEN, null);
			const state = await this.authCache.get(claims.sub, () =>
				ctx.call<AuthState | null, { id: string }>("users.authState", { id: claims.sub })
			);
			if (!state || state.tokenVersion !== claims.ver) throw new UnAuthorizedError(ERR_INVALID_TOKEN, null);
			return { id: state.id, role: state.role };
		},

		/** The admin route's rule. */
		authorize(ctx: Context<unknown, GatewayMeta>) {
			if (ctx.meta.user?.role !== "admin") throw gatewayError("ADMIN_REQUIRED");
		},

		/**
		 * moleculer-web's alias generation for a route, keeping only the actions
		 * that declare this route's group (`http.route`), with the
		 * `Idempotency-Key` stage (15) on those that declare `idempotencyKey`.
		 */
		regenerateAutoAliases(route: GatewayRoute) {
			const group = route.opts.name;
			const names: string[] = [];
			const keyed = new Set<string>();
			for (const service of this.broker.registry.getServiceList({ withActions: true, grouping: true })) {
				const actions = (service as { actions?: Record<string, unknown> }).actions;
				for (const action of Object.values(actions ?? {}) as { name: string; http?: ActionHttp }[]) {
					if (action.http?.route !== group) continue;
					names.push(action.name);
					if (action.http.idempotencyKey) keyed.add(action.name);
				}
			}
			route.whitelist = names;
			route.hasWhitelist = true;
			(ApiGateway.methods as unknown as ApiMethods).regenerateAutoAliases.call(this, route);
			for (const alias of this.aliases) {
				if (alias.route === route && alias._generated && alias.action && keyed.has(alias.action)) {
					alias.handler = idempotencyStage;
				}
			}
		},

		/** Stage 5's view of the routes: the methods with an alias at this path. */
		methodsAt(path: string): string[] {
			const find = () => this.aliases.filter(a => a.action && a.match(path)).map(a => a.method);
			let methods = find();
			if (methods.length === 0) {
				// The registry may have changed since the last (debounced) regeneration.
				this.regenerateAllAutoAliases.flush();
				methods = find();
			}
			return methods;
		},

		/** A service whose routes the gateway serves has no instance: its paths are unknown. */
		routesIncomplete(): boolean {
			const up = new Set(
				this.broker.registry.getServiceList({ onlyAvailable: true, skipInternal: true }).map(s => s.name)
			);
			return this.settings.upstreams.some(name => !up.has(name));
		},

		/**
		 * `X-Served-By` (the one place it is set) and the dashboard's count, for
		 * actions declaring `servedBy`. An answer without a remote node behind it
		 * was served here; an error without one never reached a service node.
		 */
		markServedBy(req: IncomingRequest, res: ServerResponse, answered: boolean) {
			if (!httpOf(req)?.servedBy) return;
			const remote = (req.$ctx?.meta as GatewayMeta | undefined)?.[SERVED_BY];
			const servedBy = remote ?? (answered ? this.broker.nodeID : undefined);
			if (!servedBy) return;
			this.served.add(servedBy);
			if (this.settings.servedByHeader && !res.headersSent) res.setHeader("X-Served-By", servedBy);
		},

		/**
		 * moleculer-web's server, with what applies to every answer (404s and
		 * errors included) in front: access log, security headers, compression.
		 */
		createServer() {
			const front = frontStages({
				log: entry => this.logger.info(entry, "access"),
				clientAddress: clientAddressResolver(this.settings.trustProxy),
				routes: { methodsAt: path => this.methodsAt(path), incomplete: () => this.routesIncomplete() },
				production: this.settings.production
			});
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
		this.tokens = new TokenService(this.settings.jwt.secret, this.settings.jwt.expiresIn);
		this.served = new RequestCounter();
	},

	stopped() {
		this.rateLimitBudgets.close();
	}
};

export default ApiService;
