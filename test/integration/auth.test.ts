import { createHmac } from "node:crypto";
import jwt from "jsonwebtoken";
import { DEV_JWT_SECRET } from "../../src/config";
import type { LoginResult } from "../../services/api.service";
import type { PublicUser, UserPage } from "../../services/users/types";
import { bearer, login, startGateway, type Gateway } from "../support/gateway";
import { http } from "../support/node-process";

const ADMIN = { email: "admin@example.com", password: "admin password 1" };

describe("authentication and roles over HTTP", () => {
	let gw: Gateway;
	let admin: string;
	const url = (path: string) => `${gw.baseUrl}${path}`;

	async function newUser(
		name: string,
		password = "password123"
	): Promise<{ user: PublicUser; token: string; password: string }> {
		const email = `${name.toLowerCase()}-${Math.random().toString(36).slice(2, 8)}@example.com`;
		const res = await http<PublicUser>(url("/users"), { method: "POST", json: { email, name, password } });
		expect(res.status).toBe(201);
		return { user: res.body, token: await login(gw.baseUrl, email, password), password };
	}

	beforeAll(async () => {
		gw = await startGateway({ admin: ADMIN });
		admin = await login(gw.baseUrl, ADMIN.email, ADMIN.password);
	});
	afterAll(() => gw.close());

	describe("POST /auth/login", () => {
		it("answers a bearer token, its lifetime and the user", async () => {
			const { user, password } = await newUser("Login");
			const res = await http<LoginResult>(url("/auth/login"), {
				method: "POST",
				json: { email: user.email.toUpperCase(), password }
			});
			expect(res.status).toBe(200);
			expect(res.body).toEqual({ token: expect.any(String), tokenType: "Bearer", expiresIn: 3600, user });
			const claims = jwt.verify(res.body.token, DEV_JWT_SECRET, { algorithms: ["HS256"] }) as jwt.JwtPayload;
			expect(claims).toMatchObject({ sub: user.id, role: "user", ver: 0 });
			expect((claims.exp as number) - (claims.iat as number)).toBe(3600);
		});

		it("answers 401 with one message for an unknown email and for a wrong password", async () => {
			const { user } = await newUser("Wrong");
			const unknown = await http(url("/auth/login"), {
				method: "POST",
				json: { email: "nobody@example.com", password: "whatever1" }
			});
			const wrong = await http(url("/auth/login"), {
				method: "POST",
				json: { email: user.email, password: "not-the-one" }
			});
			const expected = {
				name: "InvalidCredentialsError",
				message: "Invalid email or password",
				code: 401,
				type: "INVALID_CREDENTIALS"
			};
			expect(unknown.status).toBe(401);
			expect(unknown.body).toEqual(expected);
			expect(wrong.status).toBe(401);
			expect(wrong.body).toEqual(expected);
		});

		it("answers 422 for a missing password", async () => {
			const res = await http(url("/auth/login"), { method: "POST", json: { email: "a@example.com" } });
			expect(res.status).toBe(422);
		});
	});

	describe("GET /auth/me", () => {
		it("answers the caller", async () => {
			const { user, token } = await newUser("Me");
			const res = await http(url("/auth/me"), { headers: bearer(token) });
			expect(res.status).toBe(200);
			expect(res.body).toEqual(user);
		});

		it("answers 401 with WWW-Authenticate: Bearer without a token", async () => {
			const res = await http(url("/auth/me"));
			expect(res.status).toBe(401);
			expect(res.headers.get("www-authenticate")).toBe("Bearer");
			expect(res.body).toEqual({
				name: "UnAuthorizedError",
				message: "Missing bearer token",
				code: 401,
				type: "NO_TOKEN"
			});
		});
	});

	describe("who may do what (SPEC §2)", () => {
		let alice: { user: PublicUser; token: string; password: string };
		let bob: { user: PublicUser; token: string; password: string };
		beforeAll(async () => {
			alice = await newUser("Alice");
			bob = await newUser("Bob");
		});

		it.each(["/users", "/users/00000000-0000-4000-8000-000000000000", "/auth/me"])(
			"GET %s needs a token",
			async path => {
				const res = await http(url(path));
				expect(res.status).toBe(401);
			}
		);

		it("lets any signed-in user list and read users", async () => {
			const list = await http<UserPage>(url("/users"), { headers: bearer(alice.token) });
			expect(list.status).toBe(200);
			expect(list.body.total).toBeGreaterThanOrEqual(3);
			const read = await http(url(`/users/${bob.user.id}`), { headers: bearer(alice.token) });
			expect(read.status).toBe(200);
			expect(read.body).toEqual(bob.user);
		});

		it("lets a user rename themself but not someone else (403), leaving them unchanged", async () => {
			const self = await http<PublicUser>(url(`/users/${alice.user.id}`), {
				method: "PATCH",
				headers: bearer(alice.token),
				json: { name: "Alice A." }
			});
			expect(self.status).toBe(200);
			expect(self.body.name).toBe("Alice A.");
			const other = await http(url(`/users/${bob.user.id}`), {
				method: "PATCH",
				headers: bearer(alice.token),
				json: { name: "Hacked" }
			});
			expect(other.status).toBe(403);
			expect(other.body).toMatchObject({ code: 403, type: "FORBIDDEN" });
			expect((await http<PublicUser>(url(`/users/${bob.user.id}`), { headers: bearer(admin) })).body.name).toBe(
				"Bob"
			);
		});

		it("refuses a role change by a non-admin, even on themself", async () => {
			const res = await http(url(`/users/${alice.user.id}`), {
				method: "PATCH",
				headers: bearer(alice.token),
				json: { role: "admin" }
			});
			expect(res.status).toBe(403);
			expect((await http<PublicUser>(url(`/users/${alice.user.id}`), { headers: bearer(admin) })).body.role).toBe(
				"user"
			);
		});

		it("lets an admin change anyone's role and name", async () => {
			const res = await http<PublicUser>(url(`/users/${bob.user.id}`), {
				method: "PATCH",
				headers: bearer(admin),
				json: { role: "admin", name: "Bob Admin" }
			});
			expect(res.status).toBe(200);
			expect(res.body).toMatchObject({ role: "admin", name: "Bob Admin" });
			await http(url(`/users/${bob.user.id}`), {
				method: "PATCH",
				headers: bearer(admin),
				json: { role: "user" }
			});
		});

		it("needs currentPassword to change one's own email or password (422 missing, 403 wrong)", async () => {
			const missing = await http(url(`/users/${alice.user.id}`), {
				method: "PATCH",
				headers: bearer(alice.token),
				json: { email: "new-alice@example.com" }
			});
			expect(missing.status).toBe(422);
			expect(missing.body).toMatchObject({
				type: "VALIDATION_ERROR",
				data: [expect.objectContaining({ field: "currentPassword" })]
			});
			const wrong = await http(url(`/users/${alice.user.id}`), {
				method: "PATCH",
				headers: bearer(alice.token),
				json: { email: "new-alice@example.com", currentPassword: "nope-nope" }
			});
			expect(wrong.status).toBe(403);
			expect(wrong.body).toMatchObject({ type: "WRONG_PASSWORD" });
			const stored = await http<PublicUser>(url(`/users/${alice.user.id}`), { headers: bearer(admin) });
			expect(stored.body.email).toBe(alice.user.email);
		});

		it("ends old tokens when the password changes", async () => {
			const carol = await newUser("Carol", "first password");
			const res = await http(url(`/users/${carol.user.id}`), {
				method: "PATCH",
				headers: bearer(carol.token),
				json: { password: "second password", currentPassword: "first password" }
			});
			expect(res.status).toBe(200);
			const old = await http(url("/auth/me"), { headers: bearer(carol.token) });
			expect(old.status).toBe(401);
			expect(old.headers.get("www-authenticate")).toContain("Bearer");
			const fresh = await login(gw.baseUrl, carol.user.email, "second password");
			expect((await http(url("/auth/me"), { headers: bearer(fresh) })).status).toBe(200);
			expect(
				(
					await http(url("/auth/login"), {
						method: "POST",
						json: { email: carol.user.email, password: "first password" }
					})
				).status
			).toBe(401);
		});

		it("lets a user delete themself but not others; their token stops working", async () => {
			const dave = await newUser("Dave");
			const other = await http(url(`/users/${alice.user.id}`), { method: "DELETE", headers: bearer(dave.token) });
			expect(other.status).toBe(403);
			expect((await http(url(`/users/${alice.user.id}`), { headers: bearer(admin) })).status).toBe(200);
			const self = await http(url(`/users/${dave.user.id}`), { method: "DELETE", headers: bearer(dave.token) });
			expect(self.status).toBe(204);
			const after = await http(url("/auth/me"), { headers: bearer(dave.token) });
			expect(after.status).toBe(401);
		});

		it("lets an admin delete anyone", async () => {
			const erin = await newUser("Erin");
			expect(
				(await http(url(`/users/${erin.user.id}`), { method: "DELETE", headers: bearer(admin) })).status
			).toBe(204);
			expect((await http(url(`/users/${erin.user.id}`), { headers: bearer(admin) })).status).toBe(404);
		});

		it("never lets sign-up set a role", async () => {
			const res = await http(url("/users"), {
				method: "POST",
				json: { email: "sneaky@example.com", name: "S", password: "password123", role: "admin" }
			});
			expect(res.status).toBe(422);
			const list = await http<UserPage>(url("/users?q=sneaky"), { headers: bearer(admin) });
			expect(list.body.total).toBe(0);
		});
	});

	describe("token attacks", () => {
		let victim: { user: PublicUser; token: string };
		const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
		const now = () => Math.floor(Date.now() / 1000);
		const claims = () => ({
			sub: victim.user.id,
			role: "admin",
			ver: 0,
			iss: "rncp-api",
			aud: "rncp-api",
			iat: now(),
			exp: now() + 600
		});

		beforeAll(async () => {
			victim = await newUser("Victim");
		});

		const cases: [string, () => string][] = [
			["alg none", () => `${b64({ alg: "none", typ: "JWT" })}.${b64(claims())}.`],
			["alg None with a signature", () => `${b64({ alg: "None", typ: "JWT" })}.${b64(claims())}.c2ln`],
			["HS512 with the right secret", () => jwt.sign(claims(), DEV_JWT_SECRET, { algorithm: "HS512" })],
			[
				"HS256 with another secret",
				() => jwt.sign(claims(), "another secret of enough length 123456", { algorithm: "HS256" })
			],
			[
				"a tampered payload (role escalated after signing)",
				() => {
					const [h, , s] = jwt
						.sign({ ...claims(), role: "user" }, DEV_JWT_SECRET, { algorithm: "HS256" })
						.split(".");
					return `${h}.${b64(claims())}.${s}`;
				}
			],
			[
				"an expired token",
				() =>
					jwt.sign({ ...claims(), iat: now() - 7200, exp: now() - 3600 }, DEV_JWT_SECRET, {
						algorithm: "HS256"
					})
			],
			["a wrong issuer", () => jwt.sign({ ...claims(), iss: "evil" }, DEV_JWT_SECRET, { algorithm: "HS256" })],
			["a wrong audience", () => jwt.sign({ ...claims(), aud: "other" }, DEV_JWT_SECRET, { algorithm: "HS256" })],
			[
				"a stale token version",
				() => jwt.sign({ ...claims(), role: "user", ver: 5 }, DEV_JWT_SECRET, { algorithm: "HS256" })
			],
			[
				"an unknown subject",
				() =>
					jwt.sign({ ...claims(), sub: "00000000-0000-4000-8000-000000000000" }, DEV_JWT_SECRET, {
						algorithm: "HS256"
					})
			],
			[
				"a hand-made HS256 signature over a bad header",
				() => {
					const body = `${b64({ alg: "HS256", typ: "JWT", kid: "../../etc/passwd" })}.${b64({ ...claims(), ver: "0" })}`;
					return `${body}.${createHmac("sha256", DEV_JWT_SECRET).update(body).digest("base64url")}`;
				}
			],
			["garbage", () => "not.a.jwt"],
			["an empty token", () => ""]
		];

		it.each(cases)("refuses %s with 401 and WWW-Authenticate", async (_name, make) => {
			const res = await http(url("/users"), { headers: { authorization: `Bearer ${make()}` } });
			expect(res.status).toBe(401);
			expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
			expect(res.body).toMatchObject({ code: 401, type: expect.stringMatching(/TOKEN/) });
		});

		it("refuses a token in another scheme", async () => {
			const res = await http(url("/users"), { headers: { authorization: `Basic ${victim.token}` } });
			expect(res.status).toBe(401);
		});

		it("takes the role from the store, not from the token", async () => {
			// A valid token whose user was demoted after sign-in acts as a user.
			const res = await http(url("/users/00000000-0000-4000-8000-000000000000"), {
				method: "DELETE",
				headers: bearer(victim.token)
			});
			expect(res.status).toBe(403);
		});
	});
});
