import UsersService from "../../services/users.service";
import type { PublicUser, UserPage } from "../../services/users/types";
import { bearer, login, startGateway, type Gateway } from "../support/gateway";
import { http } from "../support/node-process";

const JSON_TYPE = "application/json; charset=utf-8";

describe("api gateway over HTTP (users on real Redis)", () => {
	let gw: Gateway;
	let adminToken: string;
	const url = (path: string) => `${gw.baseUrl}${path}`;
	const signUp = (body: object) => http<PublicUser>(url("/users"), { method: "POST", json: body });
	const asAdmin = (init: RequestInit & { json?: unknown } = {}) => ({ ...init, headers: bearer(adminToken) });

	beforeAll(async () => {
		gw = await startGateway({ admin: { email: "root@example.com", password: "root password" } });
		adminToken = await login(gw.baseUrl, "root@example.com", "root password");
	});
	afterAll(() => gw.close());

	describe("GET /", () => {
		it("says hello with the gateway's nodeID and a request ID", async () => {
			const res = await http(url("/"));
			expect(res.status).toBe(200);
			expect(res.headers.get("content-type")).toBe(JSON_TYPE);
			expect(res.body).toEqual({ message: "Hello world", service: "rncp-api-gateway", nodeID: gw.broker.nodeID });
			expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
		});

		it("echoes a valid X-Request-ID and replaces an invalid one", async () => {
			const valid = await http(url("/"), { headers: { "X-Request-ID": "abc-123.trace:1" } });
			expect(valid.headers.get("x-request-id")).toBe("abc-123.trace:1");
			const invalid = await http(url("/"), { headers: { "X-Request-ID": "bad id <script>" } });
			expect(invalid.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
		});
	});

	describe("health", () => {
		it("GET /health is 200 with one users instance and a reachable store", async () => {
			const res = await http(url("/health"));
			expect(res.status).toBe(200);
			expect(res.body).toEqual({
				status: "ok",
				nodeID: gw.broker.nodeID,
				checks: {
					users: { status: "ok", instances: 1 },
					store: { status: "ok", latencyMs: expect.any(Number) }
				}
			});
		});

		it("GET /health/live is 200", async () => {
			const res = await http(url("/health/live"));
			expect(res.status).toBe(200);
			expect(res.body).toEqual({ status: "ok", nodeID: gw.broker.nodeID });
		});

		it("GET /users/health reports the Redis store and the serving node", async () => {
			const res = await http(url("/users/health"));
			expect(res.status).toBe(200);
			expect(res.headers.get("x-served-by")).toBe(gw.broker.nodeID);
			expect(res.body).toEqual({
				status: "ok",
				nodeID: gw.broker.nodeID,
				store: { kind: "redis", reachable: true, latencyMs: expect.any(Number) }
			});
		});
	});

	describe("POST /users", () => {
		it("answers 201 with Location and the public user", async () => {
			const res = await signUp({ email: "Carol@Example.com", name: "Carol", password: "password123" });
			expect(res.status).toBe(201);
			expect(res.headers.get("content-type")).toBe(JSON_TYPE);
			expect(res.headers.get("location")).toBe(`/users/${res.body.id}`);
			expect(res.headers.get("x-served-by")).toBe(gw.broker.nodeID);
			expect(res.body).toEqual({
				id: expect.any(String),
				email: "carol@example.com",
				name: "Carol",
				role: "user",
				createdAt: expect.any(String),
				updatedAt: expect.any(String)
			});
			const read = await http(url(res.headers.get("location") as string), asAdmin());
			expect(read.status).toBe(200);
			expect(read.body).toEqual(res.body);
		});

		it("answers 409 EMAIL_TAKEN in moleculer-web's error shape", async () => {
			await signUp({ email: "dup@example.com", name: "Dup", password: "password123" });
			const res = await signUp({ email: "dup@example.com", name: "Dup 2", password: "password123" });
			expect(res.status).toBe(409);
			expect(res.body).toEqual({
				name: "EmailTakenError",
				message: "Email is already registered",
				code: 409,
				type: "EMAIL_TAKEN",
				data: { email: "dup@example.com" }
			});
		});

		it("answers 422 with every failing field and no echo of the password", async () => {
			const res = await signUp({ email: "x", name: "Ok", password: "short", role: "admin" });
			expect(res.status).toBe(422);
			const body = res.body as unknown as { name: string; type: string; data: Record<string, unknown>[] };
			expect(body.name).toBe("ValidationError");
			expect(body.type).toBe("VALIDATION_ERROR");
			expect(body.data.map(d => d.field ?? d.actual).sort()).toEqual(["email", "password", "role"]);
			expect(res.text).not.toContain("short");
		});

		it("answers 400 for malformed JSON", async () => {
			const res = await http(url("/users"), {
				method: "POST",
				headers: { "content-type": "application/json" },
				body: '{"email": '
			});
			expect(res.status).toBe(400);
			expect(res.body).toEqual({
				name: "BadRequestError",
				message: "Malformed JSON body",
				code: 400,
				type: "INVALID_JSON"
			});
		});

		it("answers 413 for a body over 100 kB", async () => {
			const res = await signUp({ email: "big@example.com", name: "x".repeat(120_000), password: "password123" });
			expect(res.status).toBe(413);
			expect(res.body).toMatchObject({ code: 413, type: "PAYLOAD_TOO_LARGE" });
		});
	});

	describe("GET /users", () => {
		it("lists a page and searches by prefix", async () => {
			await signUp({ email: "zed1@example.com", name: "Zed One", password: "password123" });
			await signUp({ email: "zed2@example.com", name: "Zed Two", password: "password123" });
			const res = await http<UserPage>(url("/users?q=zed&pageSize=1&page=2"), asAdmin());
			expect(res.status).toBe(200);
			expect(res.body).toMatchObject({ total: 2, page: 2, pageSize: 1, totalPages: 2 });
			expect(res.body.rows.map(u => u.email)).toEqual(["zed2@example.com"]);
		});

		it("answers 422 for a page size over 100 or an unknown parameter", async () => {
			expect((await http(url("/users?pageSize=500"), asAdmin())).status).toBe(422);
			expect((await http(url("/users?role=admin"), asAdmin())).status).toBe(422);
		});
	});

	describe("GET /users/:id", () => {
		it("answers 404 USER_NOT_FOUND for an unknown id", async () => {
			const res = await http(url("/users/0b8a2f39-3a1e-4a8e-9f55-0f2f6f0d2f11"), asAdmin());
			expect(res.status).toBe(404);
			expect(res.body).toEqual({
				name: "UserNotFoundError",
				message: "User not found",
				code: 404,
				type: "USER_NOT_FOUND",
				data: { id: "0b8a2f39-3a1e-4a8e-9f55-0f2f6f0d2f11" }
			});
		});
	});

	describe("PATCH and DELETE /users/:id", () => {
		it("updates then deletes with 204, after which the user is 404", async () => {
			const created = await signUp({ email: "erin@example.com", name: "Erin", password: "password123" });
			const patched = await http<PublicUser>(
				url(`/users/${created.body.id}`),
				asAdmin({
					method: "PATCH",
					json: { name: "Erin B." }
				})
			);
			expect(patched.status).toBe(200);
			expect(patched.body).toMatchObject({ id: created.body.id, name: "Erin B." });
			const del = await http(url(`/users/${created.body.id}`), asAdmin({ method: "DELETE" }));
			expect(del.status).toBe(204);
			expect(del.text).toBe("");
			expect((await http(url(`/users/${created.body.id}`), asAdmin())).status).toBe(404);
		});
	});

	describe("unknown routes", () => {
		it("answers 404 NOT_FOUND and exposes nothing of $node", async () => {
			for (const path of ["/nope", "/$node/list", "/~node/health", "/api/users"]) {
				const res = await http(url(path));
				expect(res.status).toBe(404);
				expect(res.body).toEqual({ name: "NotFoundError", message: "Not found", code: 404, type: "NOT_FOUND" });
			}
		});
	});
});

describe("api gateway without any users instance", () => {
	let gw: Gateway;
	beforeAll(async () => {
		gw = await startGateway({ users: false });
	});
	afterAll(() => gw.close());

	it("answers 503 SERVICE_UNAVAILABLE on user routes", async () => {
		const res = await http(`${gw.baseUrl}/users`, {
			method: "POST",
			json: { email: "a@b.co", name: "A", password: "password1" }
		});
		expect(res.status).toBe(503);
		expect(res.body).toEqual({
			name: "ServiceUnavailableError",
			message: "Service unavailable",
			code: 503,
			type: "SERVICE_UNAVAILABLE"
		});
	});

	it("answers 503 on /health, saying no users instance is up", async () => {
		const res = await http(`${gw.baseUrl}/health`);
		expect(res.status).toBe(503);
		expect(res.body).toEqual({
			status: "down",
			nodeID: gw.broker.nodeID,
			checks: { users: { status: "down", instances: 0 }, store: { status: "unknown", latencyMs: null } }
		});
	});

	it("still answers /health/live", async () => {
		expect((await http(`${gw.baseUrl}/health/live`)).status).toBe(200);
	});

	it("answers 503 on any path it cannot place yet, and documents only its own routes", async () => {
		const res = await http(`${gw.baseUrl}/users/00000000-0000-4000-8000-000000000000`, { method: "PATCH" });
		expect({ status: res.status, retryAfter: res.headers.get("retry-after"), body: res.body }).toEqual({
			status: 503,
			retryAfter: "5",
			body: {
				name: "ServiceUnavailableError",
				message: "Service unavailable",
				code: 503,
				type: "SERVICE_UNAVAILABLE"
			}
		});
		const doc = await http<{ paths: Record<string, unknown> }>(`${gw.baseUrl}/openapi.json`);
		expect(Object.keys(doc.body.paths).sort()).toEqual([
			"/",
			"/auth/login",
			"/auth/me",
			"/cluster",
			"/health",
			"/health/live",
			"/openapi.json"
		]);
	});
});

describe("api gateway whose users service joins later", () => {
	let gw: Gateway;
	beforeAll(async () => {
		gw = await startGateway({ users: false });
	});
	afterAll(() => gw.close());

	it("serves the users routes as soon as the registry has them", async () => {
		expect((await http(`${gw.baseUrl}/users/health`)).status).toBe(503);
		gw.broker.createService({
			...UsersService,
			settings: { ...UsersService.settings, redisUrl: process.env.TEST_REDIS_URL, keyPrefix: gw.keyPrefix }
		});
		await gw.broker.waitForServices("users");
		const res = await http<{ status: string }>(`${gw.baseUrl}/users/health`);
		expect(res.status).toBe(200);
		expect(res.headers.get("x-served-by")).toBe(gw.broker.nodeID);
		const doc = await http<{ paths: Record<string, Record<string, unknown>> }>(`${gw.baseUrl}/openapi.json`);
		expect(Object.keys(doc.body.paths["/users/{id}"]).sort()).toEqual(["delete", "get", "patch"]);
	});
});
