/**
 * fastest-validator rules of user fields, shared by the users actions and the
 * gateway's login. Every action schema using them is `$$strict`.
 */
/**
 * Emails: trimmed, lower-cased, printable ASCII only (no look-alike or
 * bidirectional characters), a dotted domain.
 */
export const email = {
	type: "string",
	trim: true,
	lowercase: true,
	max: 254,
	pattern:
		/^[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/,
	messages: { stringPattern: "The '{field}' field must be a valid email address." }
} as const;
export const name = {
	type: "string",
	trim: true,
	min: 1,
	max: 100,
	// No control characters: names are shown in the PWA and written to logs.
	// eslint-disable-next-line no-control-regex
	pattern: /^[^\u0000-\u001f\u007f]+$/
} as const;
export const password = { type: "string", min: 8, max: 128 } as const;
export const role = { type: "enum", values: ["user", "admin"] } as const;
export const id = { type: "uuid" } as const;
