import { inspect } from "node:util";

/** Keys whose values never reach a log line. */
const SECRET_KEY = /pass(word)?|secret|token|authorization|cookie|api[-_]?key/i;
const BEARER = /\b(Bearer)\s+[A-Za-z0-9._~+/=-]+/gi;
const JWT = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;
const REDACTED = "[REDACTED]";

function redactString(text: string): string {
	return text.replace(BEARER, `$1 ${REDACTED}`).replace(JWT, REDACTED);
}

/**
 * A copy of `value` safe to log: secret-looking keys masked, bearer tokens and
 * JWTs cut out of strings, and the echoed `actual` value of validation errors
 * on secret fields dropped.
 */
export function redact(value: unknown, depth = 0): unknown {
	if (typeof value === "string") return redactString(value);
	if (value === null || typeof value !== "object") return value;
	if (depth > 6) return "[…]";
	if (value instanceof Error) {
		const e = value as Error & { code?: unknown; type?: unknown; data?: unknown };
		return {
			name: e.name,
			message: redactString(e.message),
			code: e.code,
			type: e.type,
			data: redact(e.data, depth + 1),
			stack: e.stack ? redactString(e.stack) : undefined
		};
	}
	if (Buffer.isBuffer(value)) return `<Buffer ${value.length} bytes>`;
	if (Array.isArray(value)) return value.map(v => redact(v, depth + 1));
	const out: Record<string, unknown> = {};
	const secretField = SECRET_KEY.test(String((value as { field?: unknown }).field ?? ""));
	for (const [key, v] of Object.entries(value)) {
		if (SECRET_KEY.test(key)) out[key] = REDACTED;
		else if (secretField && (key === "actual" || key === "expected")) out[key] = REDACTED;
		else out[key] = redact(v, depth + 1);
	}
	return out;
}

interface Bindings {
	nodeID?: string;
	ns?: string;
	mod?: string;
	svc?: string;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
	return value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype;
}

function text(arg: unknown): string {
	const safe = redact(arg);
	return typeof safe === "string" ? safe : inspect(safe, { depth: 4, breakLength: Infinity });
}

/**
 * One JSON line per entry: `ts`, `level`, `nodeID`, `ns`, `service`, `msg`,
 * plus the fields of a leading plain-object argument (e.g. `requestID`).
 */
export function jsonFormatter(type: string, args: unknown[], bindings: Bindings): string[] {
	const [first, ...rest] = args;
	const fields = isPlainObject(first) ? (redact(first) as Record<string, unknown>) : undefined;
	const message = (fields ? rest : args).map(text).join(" ");
	return [
		JSON.stringify({
			ts: new Date().toISOString(),
			level: type,
			nodeID: bindings.nodeID,
			ns: bindings.ns,
			service: bindings.svc ?? bindings.mod,
			msg: message,
			...fields
		})
	];
}

/** Human-readable lines for development, redacted the same way. */
export function prettyFormatter(type: string, args: unknown[], bindings: Bindings): string[] {
	const time = new Date().toISOString().substring(11);
	const [first, ...rest] = args;
	const fields = isPlainObject(first) ? ` ${text(first)}` : "";
	const message = (isPlainObject(first) ? rest : args).map(text).join(" ");
	return [`[${time}] ${type.toUpperCase().padEnd(5)} ${(bindings.mod ?? "").toUpperCase()}: ${message}${fields}`];
}
