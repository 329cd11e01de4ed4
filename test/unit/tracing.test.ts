import { createHash } from "node:crypto";
import type { Context } from "moleculer";
import { actionTags, tracingOptions, zipkinTraceId } from "../../src/tracing";

describe("zipkinTraceId", () => {
	it.each([
		["7ac24750-f442-41da-8a5d-bd0f4ed5d272", "7ac24750f44241da8a5dbd0f4ed5d272"],
		["7AC24750F44241DA8A5DBD0F4ED5D272", "7ac24750f44241da8a5dbd0f4ed5d272"],
		["0123456789abcdef", "0123456789abcdef"]
	])("carries the hex request ID %s as %s", (requestID, traceId) => {
		expect(zipkinTraceId(requestID)).toBe(traceId);
	});

	it.each(["checkout:42", "abc", "0123456789abcdef0", "0".repeat(32)])(
		"derives 32 hex digits from %j, which Zipkin cannot carry",
		requestID => {
			expect(zipkinTraceId(requestID)).toBe(createHash("sha256").update(requestID).digest("hex").slice(0, 32));
		}
	);
});

describe("actionTags", () => {
	const ctx = (params: unknown) => ({ params }) as Context;

	it("keeps only ids and paging, never a password, a token or anything else", () => {
		expect(
			actionTags(ctx({ id: "u1", page: 2, pageSize: 20, password: "p", token: "t", email: "a@b.c", q: "x" }))
		).toEqual({ params: { id: "u1", page: 2, pageSize: 20 } });
		expect(actionTags(ctx({ password: "p" }))).toEqual({});
		expect(actionTags(ctx({ id: { $ne: 1 } }))).toEqual({});
		expect(actionTags(ctx(null))).toEqual({});
	});

	it("never tags a response", () => {
		expect(actionTags(ctx({ id: "u1" }), { passwordHash: "scrypt$…" })).toEqual({});
	});
});

describe("tracingOptions", () => {
	it("is off without a URL", () => {
		expect(tracingOptions(undefined)).toBe(false);
	});

	it("keeps error data (rejected values) out of spans", () => {
		const opts = tracingOptions("http://127.0.0.1:9411");
		expect(opts && opts.errorFields).toEqual(["name", "message", "code", "type", "retryable"]);
	});
});
