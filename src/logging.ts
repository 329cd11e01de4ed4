import { inspect } from "node:util";

/** Keys whose values never reach a log line. */
const SECRET_KEY = /pass(word)?|secret|token|authorization|cookie|api[-_]?key/i;
const BEARER = /\b(Bearer)\s+[A-Za-z0-9._~+/=-]+/gi;
const JWT = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;
/** Cheap first test: a string without either cannot hold what BEARER or JWT match. */
const SUSPECT = /eyJ|bearer/i;
const REDACTED = "[REDACTED]";

function redactString(text: string): string {
	if (!SUSPECT.test(text)) return text;
	return text.replace(BEARER, `$1 ${REDACTED}`).replace(JWT, REDACTED);
}

/**
 * SECRET_KEY's verdict per key name. Log lines reuse a few dozen keys (the
 * access log's eight on every request); the bound keeps keys taken from data
 * (error payloads) from growing it without limit.
 */
const secretKeys = new Map<string, boolean>();
const MAX_KEYS = 1000;

function isSecretKey(key: string): boolean {
	let secret = secretKeys.get(key);
	if (secret === undefined) {
		secret = SECRET_KEY.test(key);
		if (secretKeys.size < MAX_KEYS) secretKeys.set(key, secret);
	}
	return secret;
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
	return redactInto({}, value as Record<string, unknown>, depth);
}

/** Copies the own enumerable fields of `value` into `out`, redacted as `redact` does. */
function redactInto(
	out: Record<string, unknown>,
	value: Record<string, unknown>,
	depth: number
): Record<string, unknown> {
	const field = value.field;
	const secretField = field != null && SECRET_KEY.test(String(field));
	for (const key of Object.keys(value)) {
		if (isSecretKey(key)) out[key] = REDACTED;
		else if (secretField && (key === "actual" || key === "expected")) out[key] = REDACTED;
		else out[key] = redact(value[key], depth + 1);
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
	if (typeof arg === "string") return redactString(arg);
	const safe = redact(arg);
	return typeof safe === "string" ? safe : inspect(safe, { depth: 4, breakLength: Infinity });
}

/** The arguments from `from` on, redacted, joined by spaces. */
function message(args: unknown[], from: number): string {
	if (args.length === from + 1) return text(args[from]);
	let msg = "";
	for (let i = from; i < args.length; i++) msg += i > from ? ` ${text(args[i])}` : text(args[i]);
	return msg;
}

/**
 * One JSON line per entry: `ts`, `level`, `nodeID`, `ns`, `service`, `msg`,
 * plus the fields of a leading plain-object argument (e.g. `requestID`).
 * Called for every line (the access log: every request), so it builds the
 * line's object once, with no intermediate copies.
 */
export function jsonFormatter(type: string, args: unknown[], bindings: Bindings): string[] {
	const first = args[0];
	const withFields = isPlainObject(first);
	const line: Record<string, unknown> = {
		ts: new Date().toISOString(),
		level: type,
		nodeID: bindings.nodeID,
		ns: bindings.ns,
		service: bindings.svc ?? bindings.mod,
		msg: message(args, withFields ? 1 : 0)
	};
	if (withFields) redactInto(line, first, 0);
	return [JSON.stringify(line)];
}

/** Human-readable lines for development, redacted the same way. */
export function prettyFormatter(type: string, args: unknown[], bindings: Bindings): string[] {
	const time = new Date().toISOString().substring(11);
	const [first, ...rest] = args;
	const fields = isPlainObject(first) ? ` ${text(first)}` : "";
	const message = (isPlainObject(first) ? rest : args).map(text).join(" ");
	return [`[${time}] ${type.toUpperCase().padEnd(5)} ${(bindings.mod ?? "").toUpperCase()}: ${message}${fields}`];
}
