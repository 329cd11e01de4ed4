import { Redis } from "ioredis";
import type { PublicUser } from "../../services/users/types";
import { bearer, login, startGateway, type Gateway } from "../support/gateway";
import { http } from "../support/node-process";
import { storedState } from "../support/redis-server";

/**
 * Hostile input through real HTTP: every case must get its 4xx (never a 5xx),
 * the gateway must stay healthy, and the stored data must not change.
 */
const ADMIN = { email: "hostile-admin@example.com", password: "admin password 1" };

interface Case {
	name: string;
	method: "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS";
	/** Path; `:victim` becomes the victim user's id. */
	path: string;
	/** Raw body string or a value sent as JSON. */
	body?: string | unknown;
	contentType?: string;
	auth?: "victim" | "admin" | "none";
	status: number;
	/** The whole error body, when the case pins it. */
	error?: Record<string, unknown>;
	/** Headers the answer must carry. */
	answerHeaders?: Record<string, string>;
}

const tooDeep = {
	name: "ValidationError",
	message: "JSON body nested deeper than 32 levels",
	code: 422,
	type: "JSON_TOO_DEEP"
};
/** The 422 of a query value that is not one scalar, or of a query on a write. */
const badQuery = (field: string, message: string) => ({
	name: "ValidationError",
	message: "Parameters validation error!",
	code: 422,
	type: "VALIDATION_ERROR",
	data: [{ type: "forbidden", field, message }]
});
const notSingle = (field: string) => badQuery(field, `The '${field}' field must be a single value.`);
const onWrite = (field: string, method: string) =>
	badQuery(field, `The '${field}' field is not allowed in the query of a ${method}.`);
const methodNotAllowed = {
	name: "MethodNotAllowedError",
	message: "Method not allowed",
	code: 405,
	type: "METHOD_NOT_ALLOWED"
};

const long = (n: number) => "a".repeat(n);
const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth);
const nestedObj = (depth: number) => '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
const valid = { email: "new-user@example.com", name: "New User", password: "password123" };

const cases: Case[] = [
	// Request data nested deeper than 32 levels: refused before JSON.parse, whatever the shape
	{
		name: "objects 10 000 deep",
		method: "POST",
		path: "/users",
		body: nestedObj(10_000),
		status: 422,
		error: tooDeep
	},
	{ name: "arrays 10 000 deep", method: "POST", path: "/users", body: nested(10_000), status: 422, error: tooDeep },
	{
		name: "objects 10 000 deep inside a field",
		method: "POST",
		path: "/users",
		body: `{"email":"d@example.com","name":${nestedObj(10_000)},"password":"password123"}`,
		status: 422,
		error: tooDeep
	},
	{
		name: "arrays 33 deep inside a field",
		method: "POST",
		path: "/users",
		body: `{"email":"d@example.com","name":${nested(32)},"password":"password123"}`,
		status: 422,
		error: tooDeep
	},
	{
		name: "login 10 000 deep",
		method: "POST",
		path: "/auth/login",
		body: nested(10_000),
		status: 422,
		error: tooDeep
	},
	{
		name: "PATCH 10 000 deep",
		method: "PATCH",
		path: "/users/:victim",
		body: nestedObj(10_000),
		contentType: "application/merge-patch+json",
		auth: "victim",
		status: 422,
		error: tooDeep
	},
	{
		name: "brackets inside strings do not count",
		method: "POST",
		path: "/users",
		body: { email: "not an email", name: "[".repeat(90), password: "password123" },
		status: 422
	},
	// Query values that are not one scalar, on every route with query parameters
	{ name: "page[]=1", method: "GET", path: "/users?page[]=1", auth: "victim", status: 422, error: notSingle("page") },
	{
		name: "pageSize[]=10",
		method: "GET",
		path: "/users?pageSize[]=10",
		auth: "victim",
		status: 422,
		error: notSingle("pageSize")
	},
	{
		name: "repeated page",
		method: "GET",
		path: "/users?page=1&page=2",
		auth: "victim",
		status: 422,
		error: notSingle("page")
	},
	{
		name: "q nested by brackets",
		method: "GET",
		path: "/users?q[a][b][c][d][e][f]=x",
		auth: "victim",
		status: 422,
		error: notSingle("q")
	},
	{
		name: "__proto__ in the query",
		method: "GET",
		path: "/users?__proto__=x",
		auth: "victim",
		status: 422
	},
	// Writes take their fields from the JSON body only
	{
		name: "PATCH name in the query and the body",
		method: "PATCH",
		path: "/users/:victim?name=FromQuery",
		body: { name: "FromBody" },
		auth: "victim",
		status: 422,
		error: onWrite("name", "PATCH")
	},
	{
		name: "PATCH name in the query, no body",
		method: "PATCH",
		path: "/users/:victim?name=X",
		auth: "victim",
		status: 422,
		error: onWrite("name", "PATCH")
	},
	{
		name: "DELETE with a query",
		method: "DELETE",
		path: "/users/:victim?force=1",
		auth: "admin",
		status: 422,
		error: onWrite("force", "DELETE")
	},
	{
		name: "login fields in the query",
		method: "POST",
		path: "/auth/login?email=a@b.co&password=x",
		status: 422,
		error: onWrite("email", "POST")
	},
	{
		name: "PATCH without a changeable field",
		method: "PATCH",
		path: "/users/:victim",
		body: {},
		auth: "victim",
		status: 422
	},
	// Every content type that passes the gate is parsed
	{
		name: "merge-patch+json with a wrong currentPassword",
		method: "PATCH",
		path: "/users/:victim",
		body: { email: "changed@example.com", currentPassword: "wrong password" },
		contentType: "application/merge-patch+json",
		auth: "victim",
		status: 403,
		error: { name: "WrongPasswordError", message: "Current password is wrong", code: 403, type: "WRONG_PASSWORD" }
	},
	{
		name: "vendor +json with an unknown field",
		method: "POST",
		path: "/users",
		body: { ...valid, isAdmin: true },
		contentType: "application/vnd.rncp+json",
		status: 422
	},
	{
		name: "text/json",
		method: "POST",
		path: "/users",
		body: valid,
		contentType: "text/json",
		status: 415
	},
	{
		name: "+json outside application/",
		method: "POST",
		path: "/users",
		body: valid,
		contentType: "text/x+json",
		status: 415
	},
	// Methods a known path does not support
	{
		name: "PUT /users",
		method: "PUT",
		path: "/users",
		body: valid,
		status: 405,
		error: methodNotAllowed,
		answerHeaders: { allow: "GET, HEAD, POST, OPTIONS" }
	},
	{
		name: "DELETE /health",
		method: "DELETE",
		path: "/health",
		status: 405,
		error: methodNotAllowed,
		answerHeaders: { allow: "GET, HEAD, OPTIONS" }
	},
	{
		name: "POST /users/:id",
		method: "POST",
		path: "/users/:victim",
		body: { name: "X" },
		auth: "admin",
		status: 405,
		error: methodNotAllowed,
		answerHeaders: { allow: "GET, HEAD, PATCH, DELETE, OPTIONS" }
	},
	{
		name: "OPTIONS without a preflight runs nothing",
		method: "OPTIONS",
		path: "/users/:victim",
		auth: "admin",
		status: 204,
		answerHeaders: { allow: "GET, HEAD, PATCH, DELETE, OPTIONS" }
	},
	{ name: "HEAD /users", method: "HEAD", path: "/users?page=2&pageSize=3", auth: "victim", status: 200 },
	{ name: "HEAD /users without a token", method: "HEAD", path: "/users", status: 401 },
	// Malformed JSON and bodies
	{ name: "truncated JSON", method: "POST", path: "/users", body: '{"email":', status: 400 },
	{ name: "single quotes", method: "POST", path: "/users", body: "{'email':'a@b.co'}", status: 400 },
	{ name: "trailing comma", method: "POST", path: "/users", body: '{"email":"a@b.co",}', status: 400 },
	{ name: "bare string (strict JSON)", method: "POST", path: "/users", body: '"hello"', status: 400 },
	{ name: "bare number", method: "POST", path: "/users", body: "42", status: 400 },
	{ name: "JSON null", method: "POST", path: "/users", body: "null", status: 400 },
	{ name: "array body", method: "POST", path: "/users", body: "[1,2,3]", status: 422 },
	{ name: "deeply nested arrays", method: "POST", path: "/users", body: nested(5000), status: 422 },
	{ name: "deeply nested objects", method: "POST", path: "/users", body: nestedObj(3000), status: 422 },
	{ name: "NaN literal", method: "POST", path: "/users", body: '{"email":NaN}', status: 400 },
	{ name: "invalid UTF-8 escape", method: "POST", path: "/users", body: '{"name":"\\uZZZZ"}', status: 400 },
	{
		name: "oversized body (200 kB)",
		method: "POST",
		path: "/users",
		body: { ...valid, name: long(200_000) },
		status: 413
	},
	{
		name: "form-encoded body",
		method: "POST",
		path: "/users",
		body: "email=a%40b.co&name=A&password=password123",
		contentType: "application/x-www-form-urlencoded",
		status: 415
	},
	{
		name: "text/plain body",
		method: "POST",
		path: "/users",
		body: JSON.stringify(valid),
		contentType: "text/plain",
		status: 415
	},
	{
		name: "XML body",
		method: "POST",
		path: "/users",
		body: "<user><email>a@b.co</email></user>",
		contentType: "application/xml",
		status: 415
	},
	{
		name: "multipart body",
		method: "POST",
		path: "/users",
		body: "--x\r\n\r\n--x--",
		contentType: "multipart/form-data; boundary=x",
		status: 415
	},
	{ name: "empty JSON object", method: "POST", path: "/users", body: {}, status: 422 },
	// Wrong types
	{ name: "email as number", method: "POST", path: "/users", body: { ...valid, email: 42 }, status: 422 },
	{ name: "email as array", method: "POST", path: "/users", body: { ...valid, email: ["a@b.co"] }, status: 422 },
	{ name: "name as object", method: "POST", path: "/users", body: { ...valid, name: { first: "A" } }, status: 422 },
	{ name: "name as boolean", method: "POST", path: "/users", body: { ...valid, name: true }, status: 422 },
	{ name: "password as number", method: "POST", path: "/users", body: { ...valid, password: 12345678 }, status: 422 },
	{ name: "password as null", method: "POST", path: "/users", body: { ...valid, password: null }, status: 422 },
	{ name: "email without domain", method: "POST", path: "/users", body: { ...valid, email: "user@" }, status: 422 },
	{
		name: "email with spaces inside",
		method: "POST",
		path: "/users",
		body: { ...valid, email: "us er@example.com" },
		status: 422
	},
	// Overlong strings
	{
		name: "name of 101 characters",
		method: "POST",
		path: "/users",
		body: { ...valid, name: long(101) },
		status: 422
	},
	{
		name: "email of 300 characters",
		method: "POST",
		path: "/users",
		body: { ...valid, email: `${long(290)}@example.com` },
		status: 422
	},
	{
		name: "password of 129 characters",
		method: "POST",
		path: "/users",
		body: { ...valid, password: long(129) },
		status: 422
	},
	{
		name: "password of 7 characters",
		method: "POST",
		path: "/users",
		body: { ...valid, password: "1234567" },
		status: 422
	},
	{ name: "whitespace-only name", method: "POST", path: "/users", body: { ...valid, name: "   " }, status: 422 },
	// Unicode edge cases
	{ name: "NUL byte in name", method: "POST", path: "/users", body: { ...valid, name: "Ro\u0000ot" }, status: 422 },
	{
		name: "newline in name (log forging)",
		method: "POST",
		path: "/users",
		body: { ...valid, name: "A\nLEVEL=error fake" },
		status: 422
	},
	{
		name: "escape sequence in name",
		method: "POST",
		path: "/users",
		body: { ...valid, name: "\u001b[31mred" },
		status: 422
	},
	{
		name: "DEL character in name",
		method: "POST",
		path: "/users",
		body: { ...valid, name: "A\u007fB" },
		status: 422
	},
	{
		name: "lone surrogate in email",
		method: "POST",
		path: "/users",
		body: `{"email":"\\ud800@example.com","name":"A","password":"password123"}`,
		status: 422
	},
	{
		name: "fullwidth @ in email",
		method: "POST",
		path: "/users",
		body: { ...valid, email: "user＠example.com" },
		status: 422
	},
	{
		name: "RTL override email",
		method: "POST",
		path: "/users",
		body: { ...valid, email: "\u202euser@example.com" },
		status: 422
	},
	// Prototype pollution and extra fields
	{
		name: "__proto__ key",
		method: "POST",
		path: "/users",
		body: `{"email":"p1@example.com","name":"P","password":"password123","__proto__":{"role":"admin"}}`,
		status: 422
	},
	{
		name: "constructor.prototype key",
		method: "POST",
		path: "/users",
		body: { ...valid, constructor: { prototype: { role: "admin" } } },
		status: 422
	},
	{
		name: "nested __proto__ in name",
		method: "POST",
		path: "/users",
		body: `{"email":"p2@example.com","name":{"__proto__":{"x":1}},"password":"password123"}`,
		status: 422
	},
	{ name: "extra field isAdmin", method: "POST", path: "/users", body: { ...valid, isAdmin: true }, status: 422 },
	{
		name: "id supplied on sign-up",
		method: "POST",
		path: "/users",
		body: { ...valid, id: "00000000-0000-4000-8000-000000000000" },
		status: 422
	},
	{
		name: "passwordHash supplied on sign-up",
		method: "POST",
		path: "/users",
		body: { ...valid, passwordHash: "scrypt$x" },
		status: 422
	},
	// Role escalation
	{ name: "role admin on sign-up", method: "POST", path: "/users", body: { ...valid, role: "admin" }, status: 422 },
	{ name: "role admin in query on sign-up", method: "POST", path: "/users?role=admin", body: valid, status: 422 },
	{
		name: "self-promotion to admin",
		method: "PATCH",
		path: "/users/:victim",
		body: { role: "admin" },
		auth: "victim",
		status: 403
	},
	{
		name: "unknown role by admin",
		method: "PATCH",
		path: "/users/:victim",
		body: { role: "root" },
		auth: "admin",
		status: 422
	},
	{
		name: "tokenVersion reset",
		method: "PATCH",
		path: "/users/:victim",
		body: { tokenVersion: 0 },
		auth: "victim",
		status: 422
	},
	{
		name: "id change through the body",
		method: "PATCH",
		path: "/users/:victim",
		body: { id: "00000000-0000-4000-8000-000000000000", name: "X" },
		auth: "admin",
		status: 422
	},
	// Injection-looking q and ids
	{ name: "SQL in q", method: "GET", path: "/users?q=' OR 1=1 --", auth: "victim", status: 200 },
	{ name: "Redis lex syntax in q", method: "GET", path: "/users?q=%5B%28%2B-", auth: "victim", status: 200 },
	{ name: "q over 100 characters", method: "GET", path: `/users?q=${long(101)}`, auth: "victim", status: 422 },
	{ name: "q as array", method: "GET", path: "/users?q[]=a&q[]=b", auth: "victim", status: 422 },
	{ name: "q as object", method: "GET", path: "/users?q[$ne]=x", auth: "victim", status: 422 },
	{ name: "SQL in id", method: "GET", path: "/users/1%20OR%201=1", auth: "victim", status: 422 },
	{ name: "path traversal in id", method: "GET", path: "/users/..%2F..%2Fetc%2Fpasswd", auth: "victim", status: 422 },
	{ name: "Redis key glob in id", method: "GET", path: "/users/*", auth: "victim", status: 422 },
	{ name: "Lua in id", method: "DELETE", path: "/users/'..redis.call('FLUSHALL')..'", auth: "admin", status: 422 },
	{
		name: "uppercase-tail non-UUID id",
		method: "PATCH",
		path: "/users/not-a-uuid",
		body: { name: "X" },
		auth: "admin",
		status: 422
	},
	// Bad pagination values
	{ name: "page 0", method: "GET", path: "/users?page=0", auth: "victim", status: 422 },
	{ name: "negative page", method: "GET", path: "/users?page=-1", auth: "victim", status: 422 },
	{ name: "fractional page", method: "GET", path: "/users?page=1.5", auth: "victim", status: 422 },
	{ name: "page as text", method: "GET", path: "/users?page=abc", auth: "victim", status: 422 },
	{ name: "huge page", method: "GET", path: "/users?page=99999999999", auth: "victim", status: 422 },
	{ name: "pageSize 0", method: "GET", path: "/users?pageSize=0", auth: "victim", status: 422 },
	{ name: "pageSize 101", method: "GET", path: "/users?pageSize=101", auth: "victim", status: 422 },
	{ name: "pageSize as exponent", method: "GET", path: "/users?pageSize=1e9", auth: "victim", status: 422 },
	{ name: "unknown query parameter", method: "GET", path: "/users?sort=password", auth: "victim", status: 422 },
	// Login hostility
	{
		name: "login with email as object",
		method: "POST",
		path: "/auth/login",
		body: { email: { $gt: "" }, password: "x" },
		status: 422
	},
	{
		name: "login with extra field",
		method: "POST",
		path: "/auth/login",
		body: { email: "a@b.co", password: "x", role: "admin" },
		status: 422
	},
	{
		name: "login with empty password",
		method: "POST",
		path: "/auth/login",
		body: { email: "a@b.co", password: "" },
		status: 422
	},
	{
		name: "login with 10 kB password",
		method: "POST",
		path: "/auth/login",
		body: { email: "a@b.co", password: long(10_000) },
		status: 422
	}
];

describe("hostile input", () => {
	let gw: Gateway;
	let victim: PublicUser;
	let tokens: { victim: string; admin: string };
	let redis: Redis;
	let snapshotBefore: string;

	/** Every stored key of this gateway and its value, cache excluded. */
	const snapshot = () => storedState(redis, `${gw.keyPrefix}*`, k => !k.includes(":cache"));

	beforeAll(async () => {
		gw = await startGateway({ admin: ADMIN });
		redis = new Redis(process.env.TEST_REDIS_URL as string);
		const created = await http<PublicUser>(`${gw.baseUrl}/users`, {
			method: "POST",
			json: { email: "victim@example.com", name: "Victim", password: "victim password" }
		});
		victim = created.body;
		tokens = {
			victim: await login(gw.baseUrl, "victim@example.com", "victim password"),
			admin: await login(gw.baseUrl, ADMIN.email, ADMIN.password)
		};
		snapshotBefore = await snapshot();
	});

	afterAll(async () => {
		await redis.quit();
		await gw.close();
	});

	it.each(cases.map(c => [c.name, c] as const))("%s → the right 4xx, no 5xx", async (_name, c) => {
		const headers: Record<string, string> = {};
		if (c.auth && c.auth !== "none") Object.assign(headers, bearer(tokens[c.auth]));
		let body: string | undefined;
		if (c.body !== undefined) {
			body = typeof c.body === "string" ? c.body : JSON.stringify(c.body);
			headers["content-type"] = c.contentType ?? "application/json";
		}
		const res = await http(`${gw.baseUrl}${c.path.replace(":victim", victim.id)}`, {
			method: c.method,
			headers,
			body
		});
		expect(res.status).toBe(c.status);
		for (const [name, value] of Object.entries(c.answerHeaders ?? {})) {
			expect({ [name]: res.headers.get(name) }).toEqual({ [name]: value });
		}
		if (c.method === "HEAD" || c.method === "OPTIONS") expect(res.text).toBe("");
		if (c.error) expect(res.body).toEqual(c.error);
		if (res.status >= 400 && c.method !== "HEAD") {
			expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
			expect(res.body).toMatchObject({
				name: expect.any(String),
				message: expect.any(String),
				code: c.status,
				type: expect.any(String)
			});
			expect(res.text).not.toMatch(/at .+\.(js|ts):\d+/); // no stack trace
		}
	});

	it("leaves the stored data exactly as it was", async () => {
		expect(await snapshot()).toBe(snapshotBefore);
		expect(({} as Record<string, unknown>).role).toBeUndefined(); // no prototype pollution in this process
	});

	it("leaves the gateway healthy", async () => {
		const res = await http(`${gw.baseUrl}/health`);
		expect(res.status).toBe(200);
		const me = await http(`${gw.baseUrl}/auth/me`, { headers: bearer(tokens.victim) });
		expect(me.body).toEqual(victim);
	});
});
