import { connect } from "node:net";
import { Redis } from "ioredis";
import jwt from "jsonwebtoken";
import type { PublicUser, UserPage } from "../../services/users/types";
import {
	ADMIN_EMAIL,
	ADMIN_PASSWORD,
	createCluster,
	waitForHealthy,
	type Cluster,
	type Gateway
} from "../support/cluster";
import { http, uniqueNamespace } from "../support/node-process";
import { storedState } from "../support/redis-server";

/**
 * Cached answers, raw-input validation and bearer tokens through a real
 * gateway and two users nodes over Redis (production mode). Every case gets
 * its exact status with a JSON error body and no stack trace; the stored data
 * do not change; the nodes stay healthy.
 */

interface LoginBody {
	token: string;
	user: PublicUser;
}

/** A request with several `Authorization` lines, which fetch would join into one. */
function rawGet(port: number, path: string, headerLines: string[]): Promise<number> {
	return new Promise((resolve, reject) => {
		const socket = connect(port, "127.0.0.1", () => {
			socket.write(
				`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${headerLines.map(h => `${h}\r\n`).join("")}\r\n`
			);
		});
		let reply = "";
		socket.setEncoding("utf8");
		socket.on("data", chunk => (reply += chunk));
		socket.on("end", () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(reply)?.[1])));
		socket.on("error", reject);
	});
}

describe("request rules through a gateway and two users nodes", () => {
	const namespace = uniqueNamespace("rules");
	let cluster: Cluster;
	let gateway: Gateway;
	let redis: Redis;
	let admin: LoginBody;
	let auth: { authorization: string };
	let snapshotBefore: string;

	/** Every stored key of the namespace and its value; rate-limit counters excluded. */
	const snapshot = () => storedState(redis, `${namespace}:*`, k => !k.includes(":rl:"));

	/** A token signed with the cluster's secret, with extra header members. */
	function signed(header: Record<string, unknown>): string {
		return jwt.sign({ role: admin.user.role, ver: 0 }, cluster.env.JWT_SECRET, {
			algorithm: "HS256",
			subject: admin.user.id,
			issuer: "rncp-api",
			audience: "rncp-api",
			expiresIn: 300,
			header: { alg: "HS256", ...header }
		});
	}

	function expectError(res: { status: number; headers: Headers; body: unknown; text: string }, status: number) {
		expect(res.status).toBe(status);
		expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
		expect(res.body).toMatchObject({ code: status, type: expect.any(String), message: expect.any(String) });
		expect(res.text).not.toMatch(/at .+\.(js|ts):\d+/);
	}

	beforeAll(async () => {
		cluster = createCluster(process.env.TEST_REDIS_URL!, namespace);
		cluster.startUsers("u1");
		cluster.startUsers("u2");
		gateway = await cluster.startGateway("g1");
		await waitForHealthy(gateway.url, 2);
		redis = new Redis(process.env.TEST_REDIS_URL!);
		const login = await http<LoginBody>(`${gateway.url}/auth/login`, {
			method: "POST",
			json: { email: ADMIN_EMAIL, password: ADMIN_PASSWORD }
		});
		expect(login.status).toBe(200);
		admin = login.body;
		auth = { authorization: `Bearer ${admin.token}` };
		const kate = await http(`${gateway.url}/users`, {
			method: "POST",
			json: { email: "kate@example.kom", name: "Kate", password: "kate password" }
		});
		expect(kate.status).toBe(201);
		snapshotBefore = await snapshot();
	}, 60_000);

	afterAll(async () => {
		await redis?.quit();
		await cluster?.stop();
	}, 30_000);

	describe("cached reads", () => {
		it("answers 422 to invalid params whose cache key an earlier valid request shared", async () => {
			for (let i = 0; i < 2; i++) {
				const res = await http<UserPage>(`${gateway.url}/users?page=1&pageSize=20&q=x%22%7C%22y`, {
					headers: auth
				});
				expect(res.status).toBe(200);
				expect(res.body).toEqual({ rows: [], total: 0, page: 1, pageSize: 20, totalPages: 0 });
			}
			// Twice more, so that both users nodes (round-robin) answer it.
			for (let i = 0; i < 2; i++) {
				const res = await http<{ data: { field: string }[] }>(
					`${gateway.url}/users?page=1%22%7C%2220&pageSize=x&q=y`,
					{ headers: auth }
				);
				expectError(res, 422);
				expect(res.body.data.map(d => d.field).sort()).toEqual(["page", "pageSize"]);
			}
		});

		it("answers 422 to an unknown param next to params of a cached page", async () => {
			for (let i = 0; i < 2; i++) {
				expect((await http(`${gateway.url}/users?page=1&pageSize=5`, { headers: auth })).status).toBe(200);
			}
			for (let i = 0; i < 2; i++) {
				const res = await http(`${gateway.url}/users?page=1&pageSize=5&role=admin`, { headers: auth });
				expectError(res, 422);
			}
		});
	});

	describe("validation of the raw input", () => {
		it("refuses a sign-up with a Kelvin sign in the email (it lower-cases to k)", async () => {
			const res = await http(`${gateway.url}/users`, {
				method: "POST",
				json: { email: "kate@example.\u212Aom", name: "Kate K", password: "kate password" }
			});
			expectError(res, 422);
		});

		it("refuses a sign-in with the Kelvin form of a stored email", async () => {
			const res = await http(`${gateway.url}/auth/login`, {
				method: "POST",
				json: { email: "kate@example.\u212Aom", password: "kate password" }
			});
			expectError(res, 422);
		});

		it("refuses a name with a leading newline (a trim would have removed it)", async () => {
			const res = await http(`${gateway.url}/users`, {
				method: "POST",
				json: { email: "newline@example.com", name: "\nAdministrator", password: "password-123" }
			});
			expectError(res, 422);
		});

		it("refuses a search of 101 characters that trims to 1", async () => {
			const res = await http(`${gateway.url}/users?q=${encodeURIComponent(`${" ".repeat(100)}k`)}`, {
				headers: auth
			});
			expectError(res, 422);
		});
	});

	describe("bearer credentials", () => {
		it("accepts several spaces after Bearer (RFC 6750: 1*SP)", async () => {
			const res = await http<PublicUser>(`${gateway.url}/auth/me`, {
				headers: { authorization: `Bearer   ${admin.token}` }
			});
			expect(res.status).toBe(200);
			expect(res.body).toEqual(admin.user);
		});

		it("accepts the scheme in any case", async () => {
			const res = await http<PublicUser>(`${gateway.url}/auth/me`, {
				headers: { authorization: `bEARER ${admin.token}` }
			});
			expect(res.status).toBe(200);
			expect(res.body).toEqual(admin.user);
		});

		it.each([
			["an unknown critical extension (crit)", { crit: ["x-unknown"], "x-unknown": 1 }],
			["a key id (kid) we never issue", { kid: "other-key" }],
			["a typ other than JWT", { typ: "at+jwt" }]
		])("refuses a correctly signed token with %s", async (_what, header) => {
			const res = await http(`${gateway.url}/auth/me`, {
				headers: { authorization: `Bearer ${signed(header)}` }
			});
			expectError(res, 401);
		});

		it("accepts a token signed the same way with a plain header (the control case)", async () => {
			const res = await http(`${gateway.url}/auth/me`, { headers: { authorization: `Bearer ${signed({})}` } });
			expect(res.status).toBe(200);
		});

		it.each([
			["a tab instead of a space", (t: string) => `Bearer\t${t}`],
			["no space", (t: string) => `Bearer${t}`],
			["'=' inside the token", (t: string) => `Bearer ${t.replace(".", "=.")}`],
			["a second token", (t: string) => `Bearer ${t} ${t}`],
			["a character outside b64token", (t: string) => `Bearer ${t}!`]
		])("refuses a credential with %s", async (_what, make) => {
			const res = await http(`${gateway.url}/auth/me`, { headers: { authorization: make(admin.token) } });
			expectError(res, 401);
		});

		it("refuses two Authorization lines, even when the first is valid", async () => {
			const status = await rawGet(gateway.port, "/auth/me", [
				`Authorization: Bearer ${admin.token}`,
				"Authorization: Bearer x.y.z"
			]);
			expect(status).toBe(401);
		});
	});

	it("leaves the stored data exactly as they were", async () => {
		expect(await snapshot()).toBe(snapshotBefore);
	});

	it("leaves the gateway and both users nodes healthy", async () => {
		await waitForHealthy(gateway.url, 2);
		const me = await http(`${gateway.url}/auth/me`, { headers: auth });
		expect(me.body).toEqual(admin.user);
	});

	it("answers pages that agree with their total while users are deleted", async () => {
		const ids: string[] = [];
		for (let i = 0; i < 24; i++) {
			const res = await http<PublicUser>(`${gateway.url}/users`, {
				method: "POST",
				json: { email: `paging-${i}@example.com`, name: `Paging ${i}`, password: "password-123" }
			});
			expect(res.status).toBe(201);
			ids.push(res.body.id);
		}
		let deleted = 0;
		const deleting = (async () => {
			for (const id of ids) {
				expect((await http(`${gateway.url}/users/${id}`, { method: "DELETE", headers: auth })).status).toBe(
					204
				);
				deleted++;
			}
		})();
		let reads = 0;
		// Bounded: at most 600 reads; it ends once every paging user is gone.
		while (deleted < ids.length && reads < 600) {
			for (const path of ["/users?page=2&pageSize=8", "/users?page=2&pageSize=8&q=paging-"]) {
				const res = await http<UserPage>(`${gateway.url}${path}`, { headers: auth });
				reads++;
				expect(res.status).toBe(200);
				expect(res.body.rows).toHaveLength(Math.max(0, Math.min(8, res.body.total - 8)));
			}
		}
		await deleting;
		const last = await http<UserPage>(`${gateway.url}/users?q=paging-`, { headers: auth });
		expect(last.body.total).toBe(0);
	});
});
