/**
 * The path of an HTTP request through the gateway, every stage once, in the
 * order it runs. moleculer-web owns the routing and the call; the stages
 * around it are plain functions here, wired by `api.service.ts`.
 *
 * Before any route is known (every request, 404s included):
 *   0. metrics          per-route counters (http-metrics.ts, a `request` listener)
 *   1. drain            `Connection: close` once the gateway stops (drain.ts,
 *                       a `request` listener, since it also tracks open answers)
 * then `frontStages`:
 *   2. access log       one line per request, written when it is done
 *   3. security headers helmet
 *   4. compression      gzip / brotli above 1 kB
 *   5. method semantics HEAD runs as GET without a body; OPTIONS that is not a
 *                       CORS preflight → 204 + Allow; a method the path lacks
 *                       → 405 + Allow; an unknown path → 404 (503 while a
 *                       service the routes come from has no instance)
 *   6. query            flat `key=value` pairs only (depth 0: no brackets,
 *                       no repeats) → 422 naming the field; none on writes
 * moleculer-web (`api.rest`):
 *   7. request ID       `X-Request-ID` = the Moleculer requestID (requestIdOptions)
 *   8. body parse       JSON and `application/*+json` only, 100 kB, nesting
 *                       bounded before JSON.parse (jsonBodyParser)
 *   9. content-type gate any other body → 415 (requireJsonBody)
 *  10. unsafe keys      `__proto__`/`constructor`/`prototype`/`id` in the body → 422
 *  11. CORS             exact scheme://host:port of `CORS_ORIGINS`; preflights 204
 *  12. rate limit       per client and budget, shared through Redis; one store
 *                       per budget and gateway (rate-limit-store.ts)
 *  13. authenticate     bearer token → ctx.meta.user; token version and role
 *                       from the auth-state cache (auth-cache.ts)
 *  14. authorize        admin routes
 *  15. idempotency      `Idempotency-Key` on actions declaring it (idempotency.ts)
 *  16. call             the action; the request itself is never retried, the
 *                       idempotent calls inside it are (retry.ts)
 *  17. status/headers   the action's `http` declaration: status, Location,
 *                       X-Served-By (afterCall)
 *  18. error mapping    the catalogue (errors.ts), WWW-Authenticate,
 *                       Retry-After, X-Served-By (errorAnswer)
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import compression from "compression";
import helmet from "helmet";
import type { ActionHttp, CallingOptions, Context, Logger } from "moleculer";
import type { IncomingRequest } from "moleculer-web";
import { gatewayError, toErrorBody, type ErrorBody } from "./errors";
import { accessLog, isJsonType, rejectUnsafeKeys, requireJsonBody, type ConnectMiddleware } from "./http";

export { rejectUnsafeKeys, requireJsonBody };

/** Accepted incoming request IDs: short, printable, safe to log and to echo. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Stage 7, root call options of every HTTP request: a valid `X-Request-ID`
 * (or `X-Correlation-ID`) becomes the Moleculer `requestID`, so every node's
 * log lines of this request share it; anything else is replaced by a fresh ID.
 */
export function requestIdOptions(options: CallingOptions, req: IncomingMessage): void {
	const header = req.headers["x-correlation-id"] ?? req.headers["x-request-id"];
	const candidate = Array.isArray(header) ? header[0] : header;
	options.requestID = candidate && REQUEST_ID.test(candidate) ? candidate : undefined;
}

/** Methods whose effect is unknown after a timeout, and which take no query. */
export const WRITE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** What the method stage needs to know of the routes. */
export interface RouteTable {
	/** Methods served at this path (GET implies HEAD); empty when the path is unknown. */
	methodsAt(path: string): string[];
	/** A service the routes come from has no instance now: its paths are unknown, not absent. */
	incomplete(): boolean;
}

function pathOf(req: IncomingMessage): string {
	const path = (req.url ?? "/").split("?")[0];
	return path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
}

const METHOD_ORDER = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/** `Allow` of a path: its methods, HEAD with GET, and OPTIONS. */
function allowOf(methods: string[]): string {
	const all = new Set(methods);
	if (all.has("GET")) all.add("HEAD");
	all.add("OPTIONS");
	return METHOD_ORDER.filter(m => all.has(m)).join(", ");
}

function sendError(res: ServerResponse, body: ErrorBody, headers: Record<string, string> = {}): void {
	res.writeHead(body.code, { ...headers, "Content-Type": "application/json; charset=utf-8" });
	res.end(JSON.stringify(body));
}

/**
 * Stage 5, HTTP method semantics. A CORS preflight (OPTIONS
 * with `Access-Control-Request-Method`) goes on to the CORS stage untouched.
 */
export function methodStage(routes: RouteTable, production: boolean): ConnectMiddleware {
	return (req, res, next) => {
		const method = req.method ?? "GET";
		const preflight = method === "OPTIONS" && req.headers["access-control-request-method"] != null;
		if (preflight) return next();
		const methods = routes.methodsAt(pathOf(req));
		if (methods.length === 0) {
			// Unknown: moleculer-web answers 404, or 503 while the routes are incomplete.
			if (routes.incomplete()) {
				return sendError(res, toErrorBody(gatewayError("SERVICE_UNAVAILABLE"), { production }), {
					"Retry-After": "5"
				});
			}
			return next();
		}
		const allow = allowOf(methods);
		if (method === "OPTIONS") {
			res.writeHead(204, { Allow: allow, "Content-Length": "0" });
			return res.end();
		}
		if (method === "HEAD" && methods.includes("GET")) {
			// Node writes no body for a response to HEAD, whatever the handler sends.
			req.method = "GET";
			return next();
		}
		if (!methods.includes(method)) {
			return sendError(res, toErrorBody(gatewayError("METHOD_NOT_ALLOWED"), { production }), { Allow: allow });
		}
		next();
	};
}

const UNSAFE_QUERY_KEY = new Set(["__proto__", "constructor", "prototype"]);

function invalidField(field: string, message: string) {
	return gatewayError("VALIDATION_ERROR", [{ type: "forbidden", field, message }]);
}

/**
 * Stage 6: the query string as flat string values. Nothing nests (no `qs`
 * bracket syntax: depth 0), a repeated key or a bracketed one is an array or
 * object where every action expects a scalar → 422 naming the field; write
 * methods take their fields from the body only, so any query is 422 there.
 */
export function queryStage(routes: RouteTable, production: boolean): ConnectMiddleware {
	return (req, res, next) => {
		const url = req.url ?? "/";
		const at = url.indexOf("?");
		const query: Record<string, string> = Object.create(null) as Record<string, string>;
		// An unknown path is moleculer-web's 404, whatever its query.
		const write = WRITE_METHODS.has(req.method ?? "GET") && routes.methodsAt(pathOf(req)).length > 0;
		let error: Error | undefined;
		if (at !== -1) {
			let params: URLSearchParams | undefined;
			try {
				params = new URLSearchParams(url.slice(at + 1));
			} catch {
				error = invalidField("query", "The query string is malformed.");
			}
			for (const [rawKey, value] of params ?? []) {
				const key = rawKey.replace(/\[.*$/, "");
				if (write) {
					error = invalidField(key, `The '${key}' field is not allowed in the query of a ${req.method}.`);
				} else if (key !== rawKey || Object.hasOwn(query, key)) {
					error = invalidField(key, `The '${key}' field must be a single value.`);
				} else if (UNSAFE_QUERY_KEY.has(key)) {
					error = invalidField(key, `The '${key}' field is not allowed.`);
				}
				if (error) break;
				query[key] = value;
			}
		}
		if (error) return sendError(res, toErrorBody(error, { production }));
		(req as IncomingMessage & { query?: Record<string, string> }).query = { ...query };
		next();
	};
}

/** Stages 2 to 6, in order, for every request. */
export function frontStages(opts: {
	log: (entry: Record<string, unknown>) => void;
	clientAddress: (req: IncomingMessage) => string;
	routes: RouteTable;
	production: boolean;
}): ConnectMiddleware[] {
	return [
		accessLog(opts.log, opts.clientAddress),
		helmet({ crossOriginResourcePolicy: { policy: "same-site" } }),
		// @types/compression types express requests; it only uses node's.
		compression({ threshold: 1024 }) as unknown as ConnectMiddleware,
		methodStage(opts.routes, opts.production),
		queryStage(opts.routes, opts.production)
	];
}

/** Deepest nesting of objects and arrays a JSON body may have. */
export const MAX_JSON_DEPTH = 32;

/**
 * Stage 8's bound: the nesting of a JSON text, counted on the raw bytes
 * before JSON.parse (no recursion, so no depth can overflow anything), and
 * refused past `MAX_JSON_DEPTH`. Every later walk over the body (unsafe keys,
 * validation, idempotency fingerprint) then meets at most that depth.
 */
export function checkJsonDepth(text: string): void {
	let depth = 0;
	let inString = false;
	for (let i = 0; i < text.length; i++) {
		const c = text.charCodeAt(i);
		if (inString) {
			if (c === 0x5c) i++;
			else if (c === 0x22) inString = false;
		} else if (c === 0x22) inString = true;
		else if (c === 0x7b || c === 0x5b) {
			if (++depth > MAX_JSON_DEPTH) throw Object.assign(gatewayError("JSON_TOO_DEEP"), { status: 422 });
		} else if (c === 0x7d || c === 0x5d) depth--;
	}
}

/** Stage 8: moleculer-web's body parsers of a route that takes a body. */
export const jsonBodyParser = {
	json: {
		strict: true,
		limit: "100kb",
		type: isJsonType,
		verify(_req: IncomingMessage, _res: ServerResponse, buf: Buffer, encoding: string) {
			const text = encoding === "utf-8" ? buf.toString("utf8") : new TextDecoder(encoding).decode(buf);
			checkJsonDepth(text);
		}
	},
	urlencoded: false
};

/** The gateway's reading of an action's `http` declaration. */
export function httpOf(req: IncomingRequest): ActionHttp | undefined {
	return (req.$action as { http?: ActionHttp } | undefined)?.http;
}

/** `/users/{id}` with `{ id: "42" }` → `/users/42`. */
export function fillPath(template: string, data: unknown): string {
	return template.replace(/\{(\w+)\}/g, (_m, field: string) =>
		encodeURIComponent(String((data as Record<string, unknown> | null)?.[field] ?? ""))
	);
}

/** Stage 17: the success status and headers an action declares. */
export function successStatus(http: ActionHttp | undefined, data: unknown): { status?: number; location?: string } {
	if (!http) return {};
	if (http.downStatus && (data as { status?: unknown } | null)?.status !== "ok") return { status: http.downStatus };
	return {
		status: http.status,
		location: http.location ? fillPath(http.location, data) : undefined
	};
}

/** What stages 17 and 18 use of the gateway service. */
export interface AnsweringGateway {
	settings: { production: boolean };
	logger: Logger;
	/** Sets `X-Served-By`: the one place it is set. */
	markServedBy(req: IncomingRequest, res: ServerResponse, answered: boolean): void;
}

/** Stage 17 (moleculer-web's `onAfterCall`): status and headers from the action's `http` declaration. */
export function afterCall(
	this: AnsweringGateway,
	ctx: Context<unknown, { $statusCode?: number; $location?: string }>,
	_route: unknown,
	req: IncomingRequest,
	res: ServerResponse,
	data: unknown
): unknown {
	this.markServedBy(req, res, true);
	const { status, location } = successStatus(httpOf(req), data);
	if (status) ctx.meta.$statusCode = status;
	if (location) ctx.meta.$location = location;
	return data;
}

/** Stage 18 (moleculer-web's `onError`): the error's answer from the catalogue. */
export function errorAnswer(this: AnsweringGateway, req: IncomingRequest, res: ServerResponse, err: Error): void {
	const body = toErrorBody(err, {
		production: this.settings.production,
		unsafeMethod: req.method === "POST" || req.method === "PATCH"
	});
	if (body.code >= 500) {
		this.logger.error(
			{ requestID: req.$ctx?.requestID, method: req.method, path: req.originalUrl ?? req.url, status: body.code },
			"Request failed:",
			err
		);
	}
	this.markServedBy(req, res, false);
	if (body.code === 401) {
		res.setHeader("WWW-Authenticate", body.type === "NO_TOKEN" ? "Bearer" : 'Bearer error="invalid_token"');
	}
	if (body.code === 429) {
		const route = req.$route as { rateLimit?: { store?: { resetTime?: number } } } | undefined;
		const resetTime = route?.rateLimit?.store?.resetTime ?? Date.now();
		res.setHeader("Retry-After", String(Math.max(1, Math.ceil((resetTime - Date.now()) / 1000))));
	}
	if (body.code === 503) res.setHeader("Retry-After", "5");
	res.setHeader("Content-Type", "application/json; charset=utf-8");
	res.writeHead(body.code);
	res.end(JSON.stringify(body));
}
