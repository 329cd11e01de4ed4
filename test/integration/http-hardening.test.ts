import { gunzipSync, brotliDecompressSync } from "node:zlib";
import { request } from "node:http";
import { bearer, login, startGateway, type Gateway } from "../support/gateway";
import { http } from "../support/node-process";

/** A raw request that keeps the compressed body as bytes. */
function raw(
	url: string,
	headers: Record<string, string>
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
	return new Promise((resolve, reject) => {
		const req = request(url, { headers }, res => {
			const chunks: Buffer[] = [];
			res.on("data", c => chunks.push(c));
			res.on("end", () =>
				resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) })
			);
		});
		req.on("error", reject);
		req.end();
	});
}

describe("HTTP hardening", () => {
	let gw: Gateway;
	let token: string;
	const url = (path: string) => `${gw.baseUrl}${path}`;

	beforeAll(async () => {
		gw = await startGateway({ admin: { email: "hard@example.com", password: "hard password 1" } });
		token = await login(gw.baseUrl, "hard@example.com", "hard password 1");
		// Enough users for a list page above the compression threshold.
		for (let i = 0; i < 12; i++) {
			await http(url("/users"), {
				method: "POST",
				json: { email: `c${i}@example.com`, name: `Compressible ${i}`, password: "password123" }
			});
		}
	});
	afterAll(() => gw.close());

	describe("CORS", () => {
		it("allows the PWA origin and exposes the useful headers", async () => {
			const res = await http(url("/"), { headers: { origin: "http://localhost:3000" } });
			expect(res.status).toBe(200);
			expect(res.headers.get("access-control-allow-origin")).toBe("http://localhost:3000");
			expect(res.headers.get("access-control-expose-headers")).toContain("X-Request-ID");
		});

		it("answers a preflight from the PWA origin with 204 and the allowed methods and headers", async () => {
			const res = await http(url("/users"), {
				method: "OPTIONS",
				headers: {
					origin: "http://localhost:3000",
					"access-control-request-method": "PATCH",
					"access-control-request-headers": "authorization,content-type"
				}
			});
			expect(res.status).toBe(204);
			expect(res.headers.get("access-control-allow-origin")).toBe("http://localhost:3000");
			expect(res.headers.get("access-control-allow-methods")).toContain("PATCH");
			expect(res.headers.get("access-control-allow-headers")).toContain("Authorization");
		});

		it("gives a foreign origin no allow header", async () => {
			const res = await http(url("/"), { headers: { origin: "https://evil.example" } });
			expect(res.headers.get("access-control-allow-origin")).toBeNull();
			expect(res.status).toBe(403);
			expect(res.body).toMatchObject({ code: 403, type: "ORIGIN_NOT_ALLOWED" });
			const preflight = await http(url("/users"), {
				method: "OPTIONS",
				headers: { origin: "https://evil.example", "access-control-request-method": "DELETE" }
			});
			expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
		});
	});

	describe("CORS origins are compared whole", () => {
		let strict: Gateway;
		beforeAll(async () => {
			strict = await startGateway({ users: false, api: { corsOrigins: ["https://app.example.com"] } });
		});
		afterAll(() => strict.close());

		const preflight = (base: string, origin: string) =>
			http(`${base}/auth/login`, {
				method: "OPTIONS",
				headers: { origin, "access-control-request-method": "POST" }
			});

		it("allows the listed origin, with or without a default port", async () => {
			for (const origin of ["https://app.example.com", "https://app.example.com:443"]) {
				const res = await preflight(strict.baseUrl, origin);
				expect({ origin, status: res.status, allow: res.headers.get("access-control-allow-origin") }).toEqual({
					origin,
					status: 204,
					allow: origin
				});
			}
		});

		it.each(["https://app.example.co", "https://app.example.com.evil.net", "http://app.example.com", "null"])(
			"refuses %s",
			async origin => {
				const res = await preflight(strict.baseUrl, origin);
				expect(res.headers.get("access-control-allow-origin")).toBeNull();
				expect(res.status).toBe(403);
				expect(res.body).toEqual({
					name: "ForbiddenError",
					message: "Origin not allowed",
					code: 403,
					type: "ORIGIN_NOT_ALLOWED"
				});
			}
		);

		it("refuses a prefix of the default origin (http://localhost:300)", async () => {
			const res = await preflight(gw.baseUrl, "http://localhost:300");
			expect(res.status).toBe(403);
			expect(res.headers.get("access-control-allow-origin")).toBeNull();
		});
	});

	describe("HTTP methods", () => {
		it.each(["/", "/health", "/health/live", "/users/health", "/openapi.json"])(
			"HEAD %s answers like GET without a body",
			async path => {
				const get = await http(url(path));
				const head = await http(url(path), { method: "HEAD" });
				expect({ status: head.status, text: head.text, type: head.headers.get("content-type") }).toEqual({
					status: get.status,
					text: "",
					type: get.headers.get("content-type")
				});
			}
		);

		it("HEAD on an authenticated path answers like GET", async () => {
			const res = await http(url("/auth/me"), { method: "HEAD", headers: bearer(token) });
			expect(res.status).toBe(200);
			expect(res.text).toBe("");
			expect(res.headers.get("x-served-by")).toBe(gw.broker.nodeID);
		});

		it("OPTIONS that is not a preflight answers 204 with Allow, unauthenticated, running nothing", async () => {
			const res = await http(url("/cluster"), { method: "OPTIONS" });
			expect({ status: res.status, allow: res.headers.get("allow"), text: res.text }).toEqual({
				status: 204,
				allow: "GET, HEAD, OPTIONS",
				text: ""
			});
		});

		it("an unknown path stays 404 whatever the method", async () => {
			for (const method of ["GET", "PUT", "OPTIONS"]) {
				const res = await http(url("/nope"), { method });
				expect({ method, status: res.status }).toEqual({ method, status: 404 });
			}
		});
	});

	describe("bodies", () => {
		it("parses application/merge-patch+json and stores the change", async () => {
			const me = await http<{ id: string }>(url("/auth/me"), { headers: bearer(token) });
			const res = await http<{ name: string }>(url(`/users/${me.body.id}`), {
				method: "PATCH",
				headers: { ...bearer(token), "content-type": "application/merge-patch+json" },
				body: JSON.stringify({ name: "Merge Patched" })
			});
			expect(res.status).toBe(200);
			expect(res.body.name).toBe("Merge Patched");
			const again = await http<{ name: string }>(url(`/users/${me.body.id}`), { headers: bearer(token) });
			expect(again.body.name).toBe("Merge Patched");
		});
	});

	describe("a timed-out write", () => {
		let slow: Gateway;
		beforeAll(async () => {
			// Shorter than one scrypt hash: every sign-up times out at the gateway, and still happens.
			slow = await startGateway({ broker: { requestTimeout: 5 } });
		});
		afterAll(() => slow.close());

		it("answers 504 saying the outcome is unknown and pointing to Idempotency-Key", async () => {
			const res = await http(`${slow.baseUrl}/users`, {
				method: "POST",
				json: { email: "slow@example.com", name: "Slow", password: "password123" }
			});
			expect(res.status).toBe(504);
			expect(res.body).toEqual({
				name: "GatewayTimeoutError",
				message:
					"Upstream service timed out: the request may still have been carried out. " +
					"Send sign-ups with an Idempotency-Key and retry with the same key; read the resource before repeating a change.",
				code: 504,
				type: "OUTCOME_UNKNOWN"
			});
		});
	});

	describe("security headers", () => {
		it.each(["/", "/nope", "/users"])("are on every answer (%s)", async path => {
			const res = await http(url(path));
			expect(res.headers.get("x-content-type-options")).toBe("nosniff");
			expect(res.headers.get("x-frame-options")).toBe("SAMEORIGIN");
			expect(res.headers.get("strict-transport-security")).toMatch(/max-age=/);
			expect(res.headers.get("content-security-policy")).toContain("default-src 'self'");
			expect(res.headers.get("x-powered-by")).toBeNull();
		});
	});

	describe("compression", () => {
		it("gzips a large answer when asked", async () => {
			const res = await raw(url("/users?pageSize=100"), { "accept-encoding": "gzip", ...bearer(token) });
			expect(res.status).toBe(200);
			expect(res.headers["content-encoding"]).toBe("gzip");
			const page = JSON.parse(gunzipSync(res.body).toString());
			expect(page.total).toBeGreaterThanOrEqual(12);
		});

		it("prefers brotli when offered", async () => {
			const res = await raw(url("/users?pageSize=100"), { "accept-encoding": "br, gzip", ...bearer(token) });
			expect(res.headers["content-encoding"]).toBe("br");
			expect(JSON.parse(brotliDecompressSync(res.body).toString()).total).toBeGreaterThanOrEqual(12);
		});

		it("leaves small answers and clients without accept-encoding alone", async () => {
			const small = await raw(url("/health/live"), { "accept-encoding": "gzip" });
			expect(small.headers["content-encoding"]).toBeUndefined();
			const plain = await raw(url("/users?pageSize=100"), { ...bearer(token) });
			expect(plain.headers["content-encoding"]).toBeUndefined();
			expect(JSON.parse(plain.body.toString()).total).toBeGreaterThanOrEqual(12);
		});
	});

	describe("rate-limit headers", () => {
		it("tell the limit and what remains", async () => {
			const res = await http(url("/users"), { headers: bearer(token) });
			expect(Number(res.headers.get("x-rate-limit-limit"))).toBe(100000);
			expect(Number(res.headers.get("x-rate-limit-remaining"))).toBeLessThan(100000);
		});
	});
});
