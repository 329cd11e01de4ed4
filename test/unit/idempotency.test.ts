import type { IncomingRequest } from "moleculer-web";
import { fingerprint, readIdempotencyKey } from "../../services/api/idempotency";

const request = (value?: string) =>
	({ headers: value === undefined ? {} : { "idempotency-key": value } }) as unknown as IncomingRequest;

describe("Idempotency-Key header", () => {
	it("is optional", () => {
		expect(readIdempotencyKey(request())).toBeUndefined();
	});

	it.each(["a", "8e0c3c5e-4c1f-4a57-9d0e-6b8e7f0a1b2c", "order 42 / retry", "x".repeat(128)])("accepts %j", key => {
		expect(readIdempotencyKey(request(key))).toBe(key);
	});

	it.each([
		["empty", ""],
		["too long", "x".repeat(129)],
		["a control character", "abc\u0001"],
		["non-ASCII", "clé"],
		["only spaces", "   "]
	])("answers 400 INVALID_IDEMPOTENCY_KEY when %s", (_label, key) => {
		expect(() => readIdempotencyKey(request(key))).toThrow(
			expect.objectContaining({ code: 400, type: "INVALID_IDEMPOTENCY_KEY" })
		);
	});
});

describe("request fingerprint", () => {
	const body = { email: "a@b.co", name: "A", password: "password-1" };

	it("ignores key order", () => {
		expect(fingerprint("POST", "/users", body)).toBe(
			fingerprint("post", "/users", { password: "password-1", name: "A", email: "a@b.co" })
		);
	});

	it("leaves secret fields out, so no password is hashed and kept", () => {
		expect(fingerprint("POST", "/users", body)).toBe(fingerprint("POST", "/users", { ...body, password: "other" }));
	});

	it("changes with any other field, the path or the method", () => {
		const base = fingerprint("POST", "/users", body);
		expect(fingerprint("POST", "/users", { ...body, name: "B" })).not.toBe(base);
		expect(fingerprint("POST", "/other", body)).not.toBe(base);
		expect(fingerprint("PUT", "/users", body)).not.toBe(base);
	});
});
