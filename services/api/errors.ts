import { Errors } from "moleculer";
import type { ErrorEntry } from "../../src/error-catalogue";

/** The error body of every gateway answer: moleculer-web's shape. */
export interface ErrorBody {
	name: string;
	message: string;
	code: number;
	type: string;
	data?: unknown;
}

/**
 * Every error type the gateway answers with, once: status, name and message.
 * `toErrorBody` reads it; the README's error table is checked against it and
 * the users service's catalogue (test/unit/error-catalogue.test.ts).
 */
export const GATEWAY_ERRORS = {
	INVALID_JSON: { status: 400, name: "BadRequestError", message: "Malformed JSON body" },
	INVALID_IDEMPOTENCY_KEY: {
		status: 400,
		name: "InvalidIdempotencyKeyError",
		message: "Idempotency-Key must be 1 to 128 printable ASCII characters"
	},
	NO_TOKEN: { status: 401, name: "UnAuthorizedError", message: "Missing bearer token" },
	INVALID_TOKEN: { status: 401, name: "UnAuthorizedError", message: "Invalid or expired token" },
	ADMIN_REQUIRED: { status: 403, name: "ForbiddenError", message: "Only an admin may use this route" },
	ORIGIN_NOT_ALLOWED: { status: 403, name: "ForbiddenError", message: "Origin not allowed" },
	NOT_FOUND: { status: 404, name: "NotFoundError", message: "Not found" },
	METHOD_NOT_ALLOWED: { status: 405, name: "MethodNotAllowedError", message: "Method not allowed" },
	IDEMPOTENCY_KEY_IN_USE: {
		status: 409,
		name: "IdempotencyKeyInUseError",
		message: "A request with this Idempotency-Key is still being processed"
	},
	PAYLOAD_TOO_LARGE: { status: 413, name: "PayloadTooLarge", message: "Payload too large" },
	UNSUPPORTED_MEDIA_TYPE: {
		status: 415,
		name: "UnsupportedMediaTypeError",
		message: "Content-Type must be application/json or application/*+json"
	},
	UNSUPPORTED_ENCODING: {
		status: 415,
		name: "UnsupportedMediaTypeError",
		message: "Unsupported content encoding or charset"
	},
	VALIDATION_ERROR: { status: 422, name: "ValidationError", message: "Parameters validation error!" },
	JSON_TOO_DEEP: { status: 422, name: "ValidationError", message: "JSON body nested deeper than 32 levels" },
	IDEMPOTENCY_KEY_REUSED: {
		status: 422,
		name: "IdempotencyKeyReusedError",
		message: "Idempotency-Key was already used with a different request"
	},
	RATE_LIMITED: { status: 429, name: "RateLimitExceeded", message: "Rate limit exceeded" },
	INTERNAL_ERROR: { status: 500, name: "InternalServerError", message: "Internal server error" },
	SERVICE_UNAVAILABLE: { status: 503, name: "ServiceUnavailableError", message: "Service unavailable" },
	IDEMPOTENCY_STORE_UNAVAILABLE: {
		status: 503,
		name: "IdempotencyStoreUnavailableError",
		message: "Idempotency store unavailable"
	},
	GATEWAY_TIMEOUT: { status: 504, name: "GatewayTimeoutError", message: "Upstream service timed out" },
	OUTCOME_UNKNOWN: {
		status: 504,
		name: "GatewayTimeoutError",
		message:
			"Upstream service timed out: the request may still have been carried out. " +
			"Send sign-ups with an Idempotency-Key and retry with the same key; read the resource before repeating a change."
	}
} as const satisfies Record<string, ErrorEntry>;

export type GatewayErrorType = keyof typeof GATEWAY_ERRORS;

/**
 * A gateway error of the catalogue: a Moleculer error (a `MoleculerClientError`
 * for 4xx) whose `code` is the HTTP status, as moleculer-web expects.
 */
export function gatewayError(type: GatewayErrorType, data?: unknown): Errors.MoleculerError {
	const { status, name, message } = GATEWAY_ERRORS[type];
	const err =
		type === "VALIDATION_ERROR"
			? new Errors.ValidationError(message, type, data as Record<string, unknown>)
			: status < 500
				? new Errors.MoleculerClientError(message, status, type, data)
				: new Errors.MoleculerError(message, status, type, data);
	err.name = name;
	return err;
}

/** The body of a catalogue entry. */
function bodyOf(type: GatewayErrorType, data?: unknown): ErrorBody {
	const { status, name, message } = GATEWAY_ERRORS[type];
	return data === undefined ? { name, message, code: status, type } : { name, message, code: status, type, data };
}

/** Moleculer's and moleculer-web's own error types, and what the client is told for each. */
const FRAMEWORK_TYPES: Record<string, GatewayErrorType> = {
	// No instance, or the node handling the call left (REQUEST_REJECTED), or
	// this node's transporter is down (BAD_GATEWAY): nothing was done.
	SERVICE_NOT_FOUND: "SERVICE_UNAVAILABLE",
	SERVICE_NOT_AVAILABLE: "SERVICE_UNAVAILABLE",
	SERVICE_UNAVAILABLE: "SERVICE_UNAVAILABLE",
	BROKER_DISCONNECTED: "SERVICE_UNAVAILABLE",
	QUEUE_FULL: "SERVICE_UNAVAILABLE",
	REQUEST_REJECTED: "SERVICE_UNAVAILABLE",
	BAD_GATEWAY: "SERVICE_UNAVAILABLE",
	REQUEST_TIMEOUT: "GATEWAY_TIMEOUT",
	REQUEST_SKIPPED: "GATEWAY_TIMEOUT",
	// body-parser's types (they carry a `status`, no Moleculer `code`).
	"entity.parse.failed": "INVALID_JSON",
	"entity.too.large": "PAYLOAD_TOO_LARGE",
	"encoding.unsupported": "UNSUPPORTED_ENCODING",
	"charset.unsupported": "UNSUPPORTED_ENCODING"
};

const SECRET_FIELD = /password|token|secret|authorization/i;

/** Validation errors echo the rejected value: never for a secret field. */
function scrubData(data: unknown): unknown {
	if (!Array.isArray(data)) return data;
	return data.map(item => {
		if (item && typeof item === "object" && SECRET_FIELD.test(String((item as { field?: unknown }).field))) {
			const { actual: _actual, ...rest } = item as Record<string, unknown>;
			return rest;
		}
		return item;
	});
}

export interface ErrorContext {
	production: boolean;
	/** The request's method may not be repeated safely (POST, PATCH): a timeout leaves its outcome unknown. */
	unsafeMethod?: boolean;
}

/**
 * Maps any error reaching the gateway to the answer the client gets: the
 * gateway's catalogue by type, a service's 4xx as it is (its own catalogue),
 * a service's 5xx hidden in production, anything else 500.
 */
export function toErrorBody(err: unknown, opts: ErrorContext): ErrorBody {
	if (!(err instanceof Error)) return bodyOf("INTERNAL_ERROR");
	const e = err as Error & { code?: unknown; type?: unknown; status?: unknown; data?: unknown };
	const type = typeof e.type === "string" ? e.type : "";
	const status = typeof e.code === "number" ? e.code : typeof e.status === "number" ? e.status : 500;
	const known: GatewayErrorType | undefined = Object.hasOwn(GATEWAY_ERRORS, type)
		? (type as GatewayErrorType)
		: Object.hasOwn(FRAMEWORK_TYPES, type)
			? FRAMEWORK_TYPES[type]
			: // moleculer-web's RateLimitExceeded carries no type.
				status === 429
				? "RATE_LIMITED"
				: undefined;

	if (known === "GATEWAY_TIMEOUT" && opts.unsafeMethod) return bodyOf("OUTCOME_UNKNOWN");
	if (known === "VALIDATION_ERROR" || (status === 422 && !known)) {
		return {
			name: e.name,
			message: e.message,
			code: 422,
			type: type || "VALIDATION_ERROR",
			data: scrubData(e.data)
		};
	}
	if (known) return bodyOf(known);
	// moleculer-web's own ServiceUnavailableError carries no type.
	if (status === 503 && !type) return bodyOf("SERVICE_UNAVAILABLE");
	if (status >= 400 && status < 500) {
		const body: ErrorBody = { name: e.name, message: e.message, code: status, type: type || "BAD_REQUEST" };
		if (e.data != null) body.data = scrubData(e.data);
		return body;
	}
	// A service's own 5xx (STORE_UNAVAILABLE): its type and message are part of its catalogue.
	if (status >= 500 && status < 600 && type && e.name !== "Error" && (status === 503 || !opts.production)) {
		return { name: e.name, message: e.message, code: status, type };
	}
	if (status >= 500 && status < 600 && !opts.production) {
		return { name: e.name, message: e.message, code: status, type: type || "INTERNAL_ERROR" };
	}
	return bodyOf("INTERNAL_ERROR");
}
