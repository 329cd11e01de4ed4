import type { IncomingMessage, ServerResponse } from "node:http";
import proxyAddr from "proxy-addr";
import { gatewayError } from "./errors";

export type Next = (err?: unknown) => void;
export type ConnectMiddleware = (req: IncomingMessage, res: ServerResponse, next: Next) => void;

/** Runs connect-style middlewares in order, then `final`; an error goes to `fail`. */
export function runMiddlewares(
	middlewares: ConnectMiddleware[],
	req: IncomingMessage,
	res: ServerResponse,
	final: () => void,
	fail: (err: unknown) => void
): void {
	const step = (i: number): void => {
		if (i === middlewares.length) return final();
		try {
			middlewares[i](req, res, err => (err ? fail(err) : step(i + 1)));
		} catch (err) {
			fail(err);
		}
	};
	step(0);
}

/**
 * The client's address: the socket peer, or — only when that peer is a
 * trusted proxy (`TRUST_PROXY`) — the nearest untrusted `X-Forwarded-For` hop.
 * A forged header from an untrusted client changes nothing.
 */
export function clientAddressResolver(trust: string[]): (req: IncomingMessage) => string {
	const trusted = proxyAddr.compile(trust);
	return req => proxyAddr(req, trusted);
}

/** `application/json` and `application/<anything>+json`: the only bodies the gateway reads. */
export function isJsonType(req: IncomingMessage): boolean {
	const type = (req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
	return type === "application/json" || /^application\/[a-z0-9!#$&^_.-]+\+json$/.test(type);
}

/**
 * 415 for a request body of any other type: the body parser reads exactly
 * what `isJsonType` accepts, so what passes here has been parsed.
 */
export const requireJsonBody: ConnectMiddleware = (req, _res, next) => {
	const hasBody = Number(req.headers["content-length"] ?? 0) > 0 || req.headers["transfer-encoding"] != null;
	if (!hasBody || isJsonType(req)) return next();
	next(gatewayError("UNSUPPORTED_MEDIA_TYPE"));
};

/** One access-log entry per request, written when the response is done. */
export function accessLog(
	log: (entry: Record<string, unknown>) => void,
	clientAddress: (req: IncomingMessage) => string
): ConnectMiddleware {
	return (req, res, next) => {
		const start = process.hrtime.bigint();
		res.once("close", () => {
			log({
				event: "access",
				method: req.method,
				path: (req.url ?? "").split("?")[0],
				status: res.statusCode,
				durationMs: Math.round(Number(process.hrtime.bigint() - start) / 1e4) / 100,
				requestID: res.getHeader("X-Request-ID"),
				client: clientAddress(req),
				bytes: Number(res.getHeader("Content-Length") ?? 0) || undefined
			});
		});
		next();
	};
}

const PROTOTYPE_KEYS = new Set(["__proto__", "constructor", "prototype"]);

function findUnsafeKey(value: unknown, path: string, depth = 0): string | null {
	if (value === null || typeof value !== "object" || depth > 32) return null;
	for (const key of Object.keys(value)) {
		if (PROTOTYPE_KEYS.has(key)) return path ? `${path}.${key}` : key;
		const found = findUnsafeKey((value as Record<string, unknown>)[key], path ? `${path}.${key}` : key, depth + 1);
		if (found) return found;
	}
	return null;
}

/**
 * 422 for a JSON body with `__proto__` / `constructor` / `prototype` keys
 * (moleculer-web merges the body into the params with Object.assign, where
 * such a key would set the prototype and slip past `$$strict`), or with an
 * `id`, which only the URL sets.
 */
export const rejectUnsafeKeys: ConnectMiddleware = (req, _res, next) => {
	const body = (req as IncomingMessage & { body?: unknown }).body;
	const field =
		findUnsafeKey(body, "") ?? (body && typeof body === "object" && Object.hasOwn(body, "id") ? "id" : null);
	if (!field) return next();
	next(
		gatewayError("VALIDATION_ERROR", [
			{ type: "forbidden", field, message: `The '${field}' field is not allowed in the body.` }
		])
	);
};
