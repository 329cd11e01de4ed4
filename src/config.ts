/**
 * Runtime configuration, parsed once from the environment. Every variable the
 * project reads is named here and documented in the README; services and
 * handlers take their values from this object, never from `process.env`.
 */
import { readFileSync } from "node:fs";

export type LogFormat = "json" | "pretty";

export const ALL_SERVICES = ["api", "users", "www"] as const;
export type ServiceName = (typeof ALL_SERVICES)[number];

export interface AppConfig {
	nodeEnv: string;
	production: boolean;
	/**
	 * A bare node (`--no-services`: the REPL, `npm run repl`): it joins the
	 * cluster but runs no service and opens no server port (HTTP, metrics,
	 * health), whatever the environment says. It may run beside a node that
	 * has those ports, in the same container.
	 */
	bare: boolean;
	/** Services this node runs (`SERVICES`; none on a bare node). */
	services: ServiceName[];
	namespace: string;
	nodeID?: string;
	logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace";
	logFormat: LogFormat;
	/** Transporter connection string (`TRANSPORTER`, else `REDIS_URL`); undefined = embedded. */
	transporter?: string;
	/** Redis for the user store, cache and rate-limit counters; undefined = in memory. */
	redisUrl?: string;
	/** Key prefix of everything this namespace writes to Redis. */
	redisKeyPrefix: string;
	port: number;
	wwwPort: number;
	metricsPort?: number;
	/** The node's health port (`/live`, `/ready`, `/users/health`); undefined = none. */
	healthPort?: number;
	/** Whether gateway responses from `users` carry `X-Served-By`. */
	servedByHeader: boolean;
	requestTimeoutMs: number;
	corsOrigins: string[];
	apiUrl: string;
	jwt: {
		secret: string;
		/** Token lifetime in seconds (`JWT_EXPIRES_IN`: `3600`, `15m`, `1h`, `7d`). */
		expiresIn: number;
	};
	/** Admin created on start when no user has this email. */
	admin?: { email: string; password: string };
	rateLimit: {
		windowMs: number;
		/** Requests per client and window on every route but health. */
		max: number;
		/** Requests per client and window on `POST /auth/login`. */
		loginMax: number;
	};
	/** `proxy-addr` trust list (`loopback`, `uniquelocal`, CIDRs…); empty = trust no proxy. */
	trustProxy: string[];
	/** Zipkin-compatible collector base URL (`TRACING_URL`); undefined = tracing off. */
	tracingUrl?: string;
	/** Origin the PWA's hashed assets are referenced from (`ASSET_BASE_URL`); undefined = www itself. */
	assetBaseUrl?: string;
}

/**
 * The development signing secret: several local gateways must accept each
 * other's tokens without setup. Refused in production.
 */
export const DEV_JWT_SECRET = "rncp-development-secret-do-not-use-in-production";
const MIN_SECRET_LENGTH = 32;

export class ConfigError extends Error {
	constructor(message: string) {
		super(message);
		this.name = "ConfigError";
	}
}

type Env = Record<string, string | undefined>;

function text(env: Env, name: string): string | undefined {
	const value = env[name]?.trim();
	return value ? value : undefined;
}

function integer(env: Env, name: string, fallback: number, min = 0, max = 2 ** 31): number {
	const raw = text(env, name);
	if (raw == null) return fallback;
	const value = Number(raw);
	if (!Number.isInteger(value) || value < min || value > max) {
		throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
	}
	return value;
}

function flag(env: Env, name: string, fallback: boolean): boolean {
	const raw = text(env, name)?.toLowerCase();
	if (raw == null) return fallback;
	if (["1", "true", "yes", "on"].includes(raw)) return true;
	if (["0", "false", "no", "off"].includes(raw)) return false;
	throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

function list(env: Env, name: string): string[] | undefined {
	const raw = text(env, name);
	return raw
		?.split(",")
		.map(s => s.trim())
		.filter(Boolean);
}

function services(env: Env): ServiceName[] {
	const names = list(env, "SERVICES");
	if (!names) return [...ALL_SERVICES];
	const unknown = names.filter(n => !(ALL_SERVICES as readonly string[]).includes(n));
	if (unknown.length) {
		throw new ConfigError(
			`SERVICES has unknown service(s) ${unknown.join(", ")}; known: ${ALL_SERVICES.join(", ")}`
		);
	}
	return [...new Set(names)] as ServiceName[];
}

function duration(env: Env, name: string, fallback: number): number {
	const raw = text(env, name);
	if (raw == null) return fallback;
	const m = /^(\d+)\s*(s|m|h|d)?$/.exec(raw);
	const unit = { s: 1, m: 60, h: 3600, d: 86400 }[(m?.[2] ?? "s") as "s" | "m" | "h" | "d"];
	const seconds = m ? Number(m[1]) * unit : 0;
	if (!seconds) throw new ConfigError(`${name} must be a positive duration like 3600, 15m, 1h or 7d, got "${raw}"`);
	return seconds;
}

/** `JWT_SECRET`, else the content of `JWT_SECRET_FILE` (Docker secrets style). */
function readSecret(env: Env): string | undefined {
	const direct = text(env, "JWT_SECRET");
	if (direct) return direct;
	const file = text(env, "JWT_SECRET_FILE");
	if (!file) return undefined;
	try {
		return readFileSync(file, "utf8").trim() || undefined;
	} catch (err) {
		throw new ConfigError(`JWT_SECRET_FILE ${file} cannot be read: ${(err as Error).message}`);
	}
}

function jwtSecret(env: Env, production: boolean, signs: boolean): string {
	const secret = signs ? readSecret(env) : text(env, "JWT_SECRET");
	if (production && signs && (!secret || secret.length < MIN_SECRET_LENGTH || secret === DEV_JWT_SECRET)) {
		throw new ConfigError(
			`JWT_SECRET must be set to a random string of at least ${MIN_SECRET_LENGTH} characters in production ` +
				"(e.g. `openssl rand -base64 48`)"
		);
	}
	return secret ?? DEV_JWT_SECRET;
}

/** An absolute http(s) URL without a trailing slash, or undefined when unset. */
function httpUrl(env: Env, name: string): string | undefined {
	const raw = text(env, name);
	if (raw == null) return undefined;
	let url: URL | undefined;
	try {
		url = new URL(raw);
	} catch {
		url = undefined;
	}
	if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
		throw new ConfigError(`${name} must be an http:// or https:// URL, got "${raw}"`);
	}
	return raw.replace(/\/+$/, "");
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace"] as const;

/** The process arguments that make a bare node (see `AppConfig.bare`). */
export const BARE_NODE_FLAG = "--no-services";

export function loadConfig(env: Env = process.env, argv: readonly string[] = process.argv.slice(2)): AppConfig {
	const bare = argv.includes(BARE_NODE_FLAG);
	const nodeEnv = text(env, "NODE_ENV") ?? "development";
	const production = nodeEnv === "production";
	const redisUrl = text(env, "REDIS_URL");
	const namespace = text(env, "NAMESPACE") ?? "rncp";

	const logLevel = (text(env, "LOGLEVEL") ?? "info").toLowerCase();
	if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
		throw new ConfigError(`LOGLEVEL must be one of ${LOG_LEVELS.join(", ")}, got "${logLevel}"`);
	}
	const logFormat = text(env, "LOG_FORMAT") ?? (production ? "json" : "pretty");
	if (logFormat !== "json" && logFormat !== "pretty") {
		throw new ConfigError(`LOG_FORMAT must be json or pretty, got "${logFormat}"`);
	}
	if (redisUrl && !/^rediss?:\/\//.test(redisUrl)) {
		throw new ConfigError(`REDIS_URL must start with redis:// or rediss://, got "${redisUrl}"`);
	}
	const metricsPort = text(env, "METRICS_PORT");
	const healthPort = text(env, "HEALTH_PORT");
	const nodeServices = bare ? [] : services(env);
	const adminEmail = text(env, "ADMIN_EMAIL");
	const adminPassword = env.ADMIN_PASSWORD;
	if ((adminEmail == null) !== (adminPassword == null || adminPassword === "")) {
		throw new ConfigError("ADMIN_EMAIL and ADMIN_PASSWORD go together: set both or neither");
	}

	return {
		nodeEnv,
		production,
		bare,
		services: nodeServices,
		namespace,
		nodeID: text(env, "NODEID"),
		logLevel: logLevel as AppConfig["logLevel"],
		logFormat,
		transporter: text(env, "TRANSPORTER") ?? redisUrl,
		redisUrl,
		redisKeyPrefix: `${namespace}:`,
		port: integer(env, "PORT", 3001, 0, 65535),
		wwwPort: integer(env, "WWW_PORT", 3000, 0, 65535),
		metricsPort: metricsPort && !bare ? integer(env, "METRICS_PORT", 0, 0, 65535) : undefined,
		healthPort: healthPort && !bare ? integer(env, "HEALTH_PORT", 0, 0, 65535) : undefined,
		servedByHeader: flag(env, "SERVED_BY_HEADER", true),
		requestTimeoutMs: integer(env, "REQUEST_TIMEOUT_MS", 5000, 100, 600_000),
		corsOrigins: list(env, "CORS_ORIGINS") ?? ["http://localhost:3000"],
		apiUrl: text(env, "API_URL") ?? "http://localhost:3001",
		jwt: {
			secret: jwtSecret(env, production, nodeServices.includes("api")),
			expiresIn: duration(env, "JWT_EXPIRES_IN", 3600)
		},
		admin: adminEmail && adminPassword ? { email: adminEmail, password: adminPassword } : undefined,
		rateLimit: {
			windowMs: integer(env, "RATE_LIMIT_WINDOW_MS", 60_000, 1000, 86_400_000),
			max: integer(env, "RATE_LIMIT_MAX", 300, 1),
			loginMax: integer(env, "LOGIN_RATE_LIMIT_MAX", 10, 1)
		},
		trustProxy: list(env, "TRUST_PROXY") ?? [],
		tracingUrl: httpUrl(env, "TRACING_URL"),
		assetBaseUrl: httpUrl(env, "ASSET_BASE_URL")
	};
}

let current: AppConfig | undefined;

/** The configuration of this process, parsed on first use. */
export function getConfig(): AppConfig {
	current ??= loadConfig();
	return current;
}
