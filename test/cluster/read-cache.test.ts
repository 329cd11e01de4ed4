import type { PublicUser, UserPage } from "../../services/users/types";
import { http, startNode, uniqueNamespace, waitForHealthy, type NodeProcess } from "../support/node-process";
import { freePort, startRedisServer, type RedisServer } from "../support/redis-server";

/**
 * Each users node caches reads in its own memory (MemoryLRU); a write on one
 * node must be seen at once through every other node. This file runs its own
 * Redis (with AOF) because it also stops and restarts it.
 */
describe("cluster: per-node read cache over 2 users nodes", () => {
	let redis: RedisServer;
	let baseUrl: string;
	let gateway: NodeProcess;
	let users: NodeProcess[];
	const namespace = uniqueNamespace("cache");
	const admin = { email: "ops@example.com", password: "ops password 1" };
	let auth: { authorization: string };

	beforeAll(async () => {
		redis = await startRedisServer({ appendOnly: true });
		const env = {
			REDIS_URL: redis.url,
			NAMESPACE: namespace,
			ADMIN_EMAIL: admin.email,
			ADMIN_PASSWORD: admin.password
		};
		const port = await freePort();
		baseUrl = `http://127.0.0.1:${port}`;
		gateway = startNode({ services: "api", nodeID: `${namespace}-gw`, env: { ...env, PORT: String(port) } });
		users = ["u1", "u2"].map(id => startNode({ services: "users", nodeID: `${namespace}-${id}`, env }));
		await waitForHealthy(baseUrl, 2);
		auth = await bearer(admin.email, admin.password);
	}, 60_000);

	afterAll(async () => {
		await Promise.all([gateway, ...users].map(n => n?.stop()));
		await redis?.destroy();
	}, 30_000);

	async function bearer(email: string, password: string): Promise<{ authorization: string }> {
		const login = await http<{ token: string }>(`${baseUrl}/auth/login`, {
			method: "POST",
			json: { email, password }
		});
		expect(login.status).toBe(200);
		return { authorization: `Bearer ${login.body.token}` };
	}

	/** GETs `path` until both users nodes have answered it twice: then both have it cached. */
	async function warmBothNodes(path: string, headers = auth): Promise<void> {
		const seen = new Map<string, number>();
		const warm = () => seen.size === 2 && [...seen.values()].every(n => n >= 2);
		// Round robin over two nodes: four reads; at most 20.
		for (let i = 0; i < 20 && !warm(); i++) {
			const res = await http(`${baseUrl}${path}`, { headers });
			expect(res.status).toBe(200);
			const node = res.headers.get("x-served-by") as string;
			seen.set(node, (seen.get(node) ?? 0) + 1);
		}
		expect({ path, answersByNode: Object.fromEntries(seen), warm: warm() }).toMatchObject({ warm: true });
	}

	/** Reads `path` through each users node (round robin) and resolves every answer. */
	async function readThroughBoth<T>(
		path: string,
		headers = auth
	): Promise<{ node: string; status: number; body: T }[]> {
		const answers: { node: string; status: number; body: T }[] = [];
		for (let i = 0; i < 6; i++) {
			const res = await http<T>(`${baseUrl}${path}`, { headers });
			answers.push({ node: res.headers.get("x-served-by") as string, status: res.status, body: res.body });
		}
		expect(new Set(answers.map(a => a.node)).size).toBe(2);
		return answers;
	}

	it("sees a PATCH made through one node at once through the other, both caches warm", async () => {
		const created = await http<PublicUser>(`${baseUrl}/users`, {
			method: "POST",
			json: { email: `cache-${namespace}@example.com`, name: "Before", password: "password123" }
		});
		expect(created.status).toBe(201);
		const id = created.body.id;
		await warmBothNodes(`/users/${id}`);
		await warmBothNodes(`/users?page=1&pageSize=100`);

		const renamed = await http<PublicUser>(`${baseUrl}/users/${id}`, {
			method: "PATCH",
			headers: auth,
			json: { name: "After" }
		});
		expect(renamed.status).toBe(200);

		for (const answer of await readThroughBoth<PublicUser>(`/users/${id}`)) {
			expect({ node: answer.node, name: answer.body.name }).toEqual({ node: answer.node, name: "After" });
		}
		for (const answer of await readThroughBoth<UserPage>(`/users?page=1&pageSize=100`)) {
			expect(answer.body.rows.find(u => u.id === id)?.name).toBe("After");
		}
	}, 90_000);

	it("answers 404, and refuses the user's token, through both nodes right after a DELETE", async () => {
		const email = `gone-${namespace}@example.com`;
		const created = await http<PublicUser>(`${baseUrl}/users`, {
			method: "POST",
			json: { email, name: "Gone", password: "password123" }
		});
		expect(created.status).toBe(201);
		const own = await bearer(email, "password123");
		// Both nodes cache the user and the token's auth state (users.authState).
		await warmBothNodes(`/users/${created.body.id}`);
		await warmBothNodes(`/users/${created.body.id}`, own);

		const removed = await http(`${baseUrl}/users/${created.body.id}`, { method: "DELETE", headers: own });
		expect(removed.status).toBe(204);
		for (const answer of await readThroughBoth(`/users/${created.body.id}`)) {
			expect({ node: answer.node, status: answer.status }).toEqual({ node: answer.node, status: 404 });
		}
		const refused = await Promise.all(
			Array.from({ length: 4 }, () => http(`${baseUrl}/users/${created.body.id}`, { headers: own }))
		);
		expect(refused.map(r => r.status)).toEqual([401, 401, 401, 401]);
	}, 90_000);

	it("keeps every node running while Redis restarts, and serves again once it is back", async () => {
		const created = await http<PublicUser>(`${baseUrl}/users`, {
			method: "POST",
			json: { email: `restart-${namespace}@example.com`, name: "Restart", password: "password123" }
		});
		expect(created.status).toBe(201);

		await redis.stop();
		// The gateway's transporter is down: Moleculer refuses the call (BrokerDisconnectedError,
		// 502) or it times out (504); either way an answer, not a crash.
		const during = await http(`${baseUrl}/users/${created.body.id}`, {
			headers: auth,
			signal: AbortSignal.timeout(40_000)
		});
		expect([502, 503, 504]).toContain(during.status);

		await redis.restart();
		await waitForHealthy(baseUrl, 2, 30_000).catch(err => {
			throw new Error(
				`${String(err)}\n--- gateway output (exit ${gateway.process.exitCode}):\n${gateway.output().slice(-3000)}`
			);
		});
		const after = await http<PublicUser>(`${baseUrl}/users/${created.body.id}`, { headers: auth });
		expect(after.status).toBe(200);
		expect(after.body).toEqual(created.body);
		for (const node of [gateway, ...users]) {
			expect({ node: node.nodeID, exitCode: node.process.exitCode }).toEqual({
				node: node.nodeID,
				exitCode: null
			});
		}
	}, 90_000);
});
