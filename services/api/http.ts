import type { IncomingMessage, ServerResponse } from "node:http";
import proxyAddr from "proxy-addr";

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

/** 415 for a request body that is not JSON (body-parser silently skips other types). */
export const requireJsonBody: ConnectMiddleware = (req, res, next) => {
	const hasBody = Number(req.headers["content-length"] ?? 0) > 0 || req.headers["transfer-encoding"] != null;
	if (!hasBody) return next();
	const type = (req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
	if (type === "application/json" || type.endsWith("+json")) return next();
	const err = Object.assign(new Error("Content-Type must be application/json"), {
		type: "UNSUPPORTED_MEDIA_TYPE",
		code: 415,
		name: "UnsupportedMediaTypeError"
	});
	next(err);
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
