import { createHash } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { Service } from "moleculer";
import type { IncomingRequest } from "moleculer-web";
import { gatewayError } from "./errors";
import type { DoneRecord, IdempotencyStore, StoredAnswer } from "./idempotency-store";

/**
 * `Idempotency-Key` on the routes whose action declares `http.idempotencyKey`:
 * the first request with a key is executed and its answer
 * (status, body, Location) stored in Redis; a later request with the same key
 * and the same payload gets that answer again (`Idempotent-Replayed: true`)
 * and runs nothing. A duplicate arriving while the first is still running waits
 * for its answer. The claim is an atomic set-if-absent shared by all gateways,
 * so concurrent duplicates on different gateways cannot both run.
 *
 * This lives in the gateway because the answer to replay is an HTTP answer,
 * which only the gateway composes, and so that the users service and its
 * store stay unaware of HTTP. Even if a gateway died between the user's
 * creation and the recording of the answer, the atomic unique-email index
 * stops a retry from creating a second user (it would get 409).
 */

export const IDEMPOTENCY_HEADER = "idempotency-key";

/** Visible ASCII and inner spaces, at most 128 characters. */
const VALID_KEY = /^[\x21-\x7e](?:[\x20-\x7e]{0,126}[\x21-\x7e])?$/;

/** Fields left out of the request fingerprint, so no password is hashed and kept. */
const SECRET_FIELD = /password|secret|token/i;

export interface IdempotencyOptions {
	/** How long a claim holds without an answer before another request may take it. */
	lockMs: number;
	/** How long a stored answer is replayed. */
	ttlSeconds: number;
	/** How long a duplicate waits for the first request's answer. */
	waitMs: number;
	pollMs: number;
}

export const DEFAULT_IDEMPOTENCY: IdempotencyOptions = {
	lockMs: 30_000,
	ttlSeconds: 24 * 60 * 60,
	waitMs: 15_000,
	pollMs: 50
};

function canonical(value: unknown): unknown {
	if (Array.isArray(value)) return value.map(canonical);
	if (value && typeof value === "object") {
		return Object.fromEntries(
			Object.keys(value)
				.filter(k => !SECRET_FIELD.test(k))
				.sort()
				.map(k => [k, canonical((value as Record<string, unknown>)[k])])
		);
	}
	return value;
}

/** Method, path and body (without secret fields) of a request, hashed. */
export function fingerprint(method: string, path: string, body: unknown): string {
	return createHash("sha256")
		.update(JSON.stringify([method.toUpperCase(), path, canonical(body ?? null)]))
		.digest("base64url");
}

/** The key of a request, `undefined` without the header; throws on an invalid one. */
export function readIdempotencyKey(req: IncomingRequest): string | undefined {
	const raw = req.headers[IDEMPOTENCY_HEADER];
	if (raw === undefined) return undefined;
	const key = Array.isArray(raw) ? raw.join(", ") : raw;
	if (!VALID_KEY.test(key)) throw gatewayError("INVALID_IDEMPOTENCY_KEY");
	return key;
}

/** Answers worth replaying: successes and the business conflict (email taken). */
function isFinal(status: number): boolean {
	return (status >= 200 && status < 400) || status === 409;
}

function replay(res: ServerResponse, answer: StoredAnswer): void {
	res.statusCode = answer.status;
	if (answer.contentType) res.setHeader("Content-Type", answer.contentType);
	if (answer.location) res.setHeader("Location", answer.location);
	res.setHeader("Idempotent-Replayed", "true");
	res.end(answer.body);
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/**
 * Records the answer of the request holding the claim as soon as it is
 * written, or releases the claim when the answer is not worth replaying (a
 * 5xx, a validation error). If the connection dies before any answer, the
 * claim is kept until its lock expires: the request may still be running.
 */
function recordAnswer(
	service: Service,
	store: IdempotencyStore,
	opts: IdempotencyOptions,
	res: ServerResponse,
	key: string,
	token: string,
	print: string
): void {
	const end = res.end as (...args: unknown[]) => ServerResponse;
	let recorded = false;
	res.end = function (this: ServerResponse, ...args: unknown[]) {
		if (!recorded) {
			recorded = true;
			const chunk = args[0];
			const body = typeof chunk === "string" || Buffer.isBuffer(chunk) ? chunk.toString() : "";
			settle(res, body).catch((err: unknown) =>
				service.logger.error("Could not record an idempotent answer:", (err as Error).message)
			);
		}
		return end.apply(this, args);
	} as ServerResponse["end"];

	async function settle(answer: ServerResponse, body: string): Promise<void> {
		const status = answer.statusCode;
		if (!isFinal(status)) return store.release(key, token);
		const location = answer.getHeader("Location");
		const contentType = answer.getHeader("Content-Type");
		const record: DoneRecord = {
			state: "done",
			fingerprint: print,
			status,
			body,
			location: typeof location === "string" ? location : undefined,
			contentType: typeof contentType === "string" ? contentType : undefined
		};
		if (!(await store.complete(key, token, record, opts.ttlSeconds))) {
			service.logger.warn("Idempotency claim expired before the answer was recorded.");
		}
	}
}

/**
 * moleculer-web alias middleware, set by the gateway on the aliases of actions
 * declaring `http.idempotencyKey`. It runs after the route's body parser,
 * rate limit and authentication.
 */
export function idempotent(
	getStore: (service: Service) => IdempotencyStore | undefined,
	opts: IdempotencyOptions = DEFAULT_IDEMPOTENCY
) {
	return async function idempotencyKey(
		this: Service,
		req: IncomingRequest,
		res: ServerResponse,
		next: (err?: unknown) => void
	): Promise<void> {
		let key: string | undefined;
		try {
			key = readIdempotencyKey(req);
		} catch (err) {
			return next(err);
		}
		if (key === undefined) return next();
		const store = getStore(this);
		if (!store) return next(gatewayError("IDEMPOTENCY_STORE_UNAVAILABLE"));

		const body = (req as IncomingRequest & { body?: unknown }).body;
		const print = fingerprint(req.method ?? "POST", req.parsedUrl ?? req.url ?? "", body);
		const deadline = Date.now() + opts.waitMs;
		try {
			for (;;) {
				const claim = await store.claim(key, print, opts.lockMs);
				if (claim.claimed) {
					recordAnswer(this, store, opts, res, key, claim.token, print);
					return next();
				}
				const { record } = claim;
				if (record.fingerprint !== print) return next(gatewayError("IDEMPOTENCY_KEY_REUSED"));
				if (record.state === "done") return replay(res, record);
				if (Date.now() >= deadline) return next(gatewayError("IDEMPOTENCY_KEY_IN_USE"));
				await sleep(opts.pollMs);
			}
		} catch (err) {
			this.logger.error("Idempotency store failed:", (err as Error).message);
			return next(gatewayError("IDEMPOTENCY_STORE_UNAVAILABLE"));
		}
	};
}
