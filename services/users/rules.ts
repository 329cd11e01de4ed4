/**
 * fastest-validator rules of user fields, shared by the users actions and the
 * gateway's login. Every action schema using them is `$$strict`.
 *
 * Each rule checks the raw input, and only then normalises it (trims,
 * lower-cases) in its `custom` function, which fastest-validator runs after
 * the built-in checks. A normalisation first could turn an invalid input into
 * a valid one: `"\u212A".toLowerCase()` (Kelvin sign) is `"k"`, and `trim()`
 * drops a leading newline that the control-character check is there to refuse.
 */

/** Surrounding spaces and tabs, trimmed once the raw value has been checked. */
const ASCII_TRIM = /^[ \t]+|[ \t]+$/g;

/**
 * Emails: printable ASCII only, checked as sent (no look-alike or
 * bidirectional characters, whatever their lower case), a dotted domain;
 * surrounding spaces and tabs allowed; stored trimmed and lower-cased.
 */
export const email = {
	type: "string",
	max: 254,
	pattern:
		/^[ \t]*[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+[ \t]*$/,
	messages: { stringPattern: "The '{field}' field must be a valid email address." },
	custom: (value: unknown): unknown =>
		typeof value === "string" ? value.replace(ASCII_TRIM, "").toLowerCase() : value
} as const;

/**
 * Names: no control characters anywhere in what was sent (names are shown in
 * the PWA and written to logs), 1 to 100 characters once surrounding
 * whitespace is trimmed.
 */
export const name = {
	type: "string",
	min: 1,
	max: 100,
	// eslint-disable-next-line no-control-regex
	pattern: /^[^\u0000-\u001f\u007f]+$/,
	messages: { stringEmpty: "The '{field}' field must not be blank." },
	custom: (value: unknown, errors: { type: string; actual?: unknown }[]): unknown => {
		if (typeof value !== "string") return value;
		const trimmed = value.trim();
		if (trimmed === "") errors.push({ type: "stringEmpty", actual: value });
		return trimmed;
	}
} as const;

/** Passwords are taken exactly as sent: no trimming, no folding. */
export const password = { type: "string", min: 8, max: 128 } as const;

/** The password of a sign-in or of `currentPassword`: any non-empty string as sent. */
export const givenPassword = { type: "string", min: 1, max: 128 } as const;

/** A search prefix: at most 100 characters as sent, then trimmed. */
export const query = {
	type: "string",
	max: 100,
	custom: (value: unknown): unknown => (typeof value === "string" ? value.trim() : value)
} as const;

export const role = { type: "enum", values: ["user", "admin"] } as const;

/** Ids are lower-case UUIDs, as the store writes them: another case is another (unknown) id. */
export const id = { type: "uuid" } as const;
