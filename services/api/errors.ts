/** The error body of every gateway answer: moleculer-web's shape. */
export interface ErrorBody {
	name: string;
	message: string;
	code: number;
	type: string;
	data?: unknown;
}

const UNAVAILABLE = new Set([
	"SERVICE_NOT_FOUND",
	"SERVICE_NOT_AVAILABLE",
	"SERVICE_UNAVAILABLE",
	"BROKER_DISCONNECTED",
	"QUEUE_FULL",
	"STORE_UNAVAILABLE",
	// The node handling the call left the cluster (killed, crashed) before answering.
	"REQUEST_REJECTED",
	// BrokerDisconnectedError: this node's transporter is down (Redis away), nothing was sent.
	"BAD_GATEWAY"
]);
const TIMEOUT = new Set(["REQUEST_TIMEOUT", "REQUEST_SKIPPED"]);

/** body-parser's error types, which carry a `status` and no Moleculer `code`. */
const BODY_ERRORS: Record<string, Omit<ErrorBody, "data">> = {
	"entity.parse.failed": { name: "BadRequestError", message: "Malformed JSON body", code: 400, type: "INVALID_JSON" },
	"entity.too.large": { name: "PayloadTooLarge", message: "Payload too large", code: 413, type: "PAYLOAD_TOO_LARGE" },
	"encoding.unsupported": {
		name: "UnsupportedMediaTypeError",
		message: "Unsupported content encoding",
		code: 415,
		type: "UNSUPPORTED_MEDIA_TYPE"
	},
	"charset.unsupported": {
		name: "UnsupportedMediaTypeError",
		message: "Unsupported charset",
		code: 415,
		type: "UNSUPPORTED_MEDIA_TYPE"
	}
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

/**
 * Maps any error reaching the gateway to the answer the client gets:
 * no instance → 503, downstream timeout → 504, body-parser errors → 400/413/415,
 * anything unexpected → 500 without its text or stack in production.
 */
export function toErrorBody(err: unknown, production: boolean): ErrorBody {
	if (!(err instanceof Error)) {
		return { name: "InternalServerError", message: "Internal server error", code: 500, type: "INTERNAL_ERROR" };
	}
	const e = err as Error & { code?: unknown; type?: unknown; status?: unknown; data?: unknown };
	const bodyError = typeof e.type === "string" ? BODY_ERRORS[e.type] : undefined;
	if (bodyError) return { ...bodyError };

	const type = typeof e.type === "string" ? e.type : "";
	// moleculer-web's own ServiceUnavailableError carries no type.
	if (UNAVAILABLE.has(type) || (e.code === 503 && !type)) {
		return {
			name: "ServiceUnavailableError",
			message: type === "STORE_UNAVAILABLE" ? e.message : "Service unavailable",
			code: 503,
			type: type === "STORE_UNAVAILABLE" ? type : "SERVICE_UNAVAILABLE"
		};
	}
	if (TIMEOUT.has(type)) {
		return {
			name: "GatewayTimeoutError",
			message: "Upstream service timed out",
			code: 504,
			type: "GATEWAY_TIMEOUT"
		};
	}
	const status = typeof e.code === "number" ? e.code : typeof e.status === "number" ? e.status : 500;
	if (status === 401 && (type === "NO_TOKEN" || type === "INVALID_TOKEN")) {
		return {
			name: "UnAuthorizedError",
			message: type === "NO_TOKEN" ? "Missing bearer token" : "Invalid or expired token",
			code: 401,
			type
		};
	}
	if (status === 429) {
		return { name: "RateLimitExceeded", message: "Rate limit exceeded", code: 429, type: "RATE_LIMITED" };
	}
	if (status === 403 && type === "ORIGIN_NOT_ALLOWED") {
		return { name: "ForbiddenError", message: "Origin not allowed", code: 403, type };
	}
	if (status >= 400 && status < 500) {
		return { name: e.name, message: e.message, code: status, type: type || "BAD_REQUEST", data: scrubData(e.data) };
	}
	if (status >= 500 && status < 600 && !production) {
		return { name: e.name, message: e.message, code: status, type: type || "INTERNAL_ERROR" };
	}
	return { name: "InternalServerError", message: "Internal server error", code: 500, type: "INTERNAL_ERROR" };
}
