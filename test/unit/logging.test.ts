import { jsonFormatter, prettyFormatter, redact } from "../../src/logging";

const bindings = { nodeID: "node-1", ns: "test", mod: "api", svc: "api" };
const TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlLWhlcmU";

describe("log formatters redact secrets", () => {
	it("writes one JSON line with the bindings, the message and the leading object's fields", () => {
		const [line] = jsonFormatter(
			"info",
			[
				{ event: "access", method: "GET", path: "/users/1", status: 200, requestID: "r-1", bytes: undefined },
				"access"
			],
			bindings
		);
		expect(JSON.parse(line)).toEqual({
			ts: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
			level: "info",
			nodeID: "node-1",
			ns: "test",
			service: "api",
			msg: "access",
			event: "access",
			method: "GET",
			path: "/users/1",
			status: 200,
			requestID: "r-1"
		});
	});

	it("masks secret-looking keys, bearer tokens and JWTs in fields and in the message", () => {
		const [line] = jsonFormatter(
			"warn",
			[
				{
					password: "hunter2",
					Authorization: `Bearer ${TOKEN}`,
					nested: { apiKey: "k", note: `token ${TOKEN}` }
				},
				"login with",
				`Bearer ${TOKEN}`,
				{ cookie: "c=1" }
			],
			bindings
		);
		expect(line).not.toContain("hunter2");
		expect(line).not.toContain(TOKEN);
		expect(JSON.parse(line)).toMatchObject({
			password: "[REDACTED]",
			Authorization: "[REDACTED]",
			nested: { apiKey: "[REDACTED]", note: "token [REDACTED]" },
			msg: "login with Bearer [REDACTED] { cookie: '[REDACTED]' }"
		});
	});

	it("drops the echoed value of a validation error on a secret field, keeps others", () => {
		const errors = [
			{ type: "stringMin", field: "password", actual: "short", expected: 8, message: "too short" },
			{ type: "stringMin", field: "name", actual: "A", expected: 2, message: "too short" }
		];
		expect(redact(errors)).toEqual([
			{
				type: "stringMin",
				field: "password",
				actual: "[REDACTED]",
				expected: "[REDACTED]",
				message: "too short"
			},
			{ type: "stringMin", field: "name", actual: "A", expected: 2, message: "too short" }
		]);
	});

	it("leaves a line with neither a fields object nor a message as an empty message", () => {
		expect(JSON.parse(jsonFormatter("info", [], bindings)[0]).msg).toBe("");
		expect(JSON.parse(jsonFormatter("info", [{ a: 1 }], bindings)[0])).toMatchObject({ msg: "", a: 1 });
	});

	it("redacts the pretty lines the same way", () => {
		const [line] = prettyFormatter("info", [{ token: "t" }, `Bearer ${TOKEN}`], bindings);
		expect(line).toContain("Bearer [REDACTED]");
		expect(line).toContain("token: '[REDACTED]'");
		expect(line).not.toContain(TOKEN);
	});
});
