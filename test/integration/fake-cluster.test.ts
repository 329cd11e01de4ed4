import { Errors, type Middleware } from "moleculer";
import type { PublicUser, UserPage } from "../../services/users/types";
import { startFakeCluster, type FakeCluster } from "../support/fake-cluster";
import { login } from "../support/gateway";
import { http } from "../support/node-process";

/**
 * What crosses nodes without needing a process: a gateway and two users
 * brokers in this process over the Fake transporter, with the node options
 * of moleculer.config.ts.
 */
const ADMIN = { email: "fake-admin@example.com", password: "fake admin password" };

/** Makes `users.get` on this node fail as a node being stopped would (retryable). */
function failingGets(): Middleware {
	return {
		name: "FailingGets",
		localAction(next, action) {
			if (action.name !== "users.get") return next;
			return () => Promise.reject(new Errors.ServiceNotAvailableError({ action: action.name }));
		}
	};
}

describe("two users brokers and a gateway over the Fake transporter", () => {
	let cluster: FakeCluster;
	let auth: { authorization: string };

	beforeAll(async () => {
		cluster = await startFakeCluster({ admin: ADMIN });
		auth = { authorization: `Bearer ${await login(cluster.baseUrl, ADMIN.email, ADMIN.password)}` };
	});
	afterAll(() => cluster?.close());

	it("spreads reads over both users nodes and names the one that answered (X-Served-By)", async () => {
		const served = new Set<string>();
		for (let i = 0; i < 4; i++) {
			const res = await http<UserPage>(`${cluster.baseUrl}/users?page=1&pageSize=5`, { headers: auth });
			expect(res.status).toBe(200);
			served.add(res.headers.get("x-served-by") as string);
		}
		expect([...served].sort()).toEqual(cluster.users.map(b => b.nodeID).sort());
	});

	it("cleans every node's cache on a write: a cached read through either node sees it", async () => {
		const created = await http<PublicUser>(`${cluster.baseUrl}/users`, {
			method: "POST",
			json: { email: "fake-cache@example.com", name: "Before", password: "password-123" }
		});
		expect(created.status).toBe(201);
		const path = `${cluster.baseUrl}/users/${created.body.id}`;
		const warm = new Map<string, number>();
		for (let i = 0; i < 4; i++) {
			const res = await http<PublicUser>(path, { headers: auth });
			expect(res.body.name).toBe("Before");
			const node = res.headers.get("x-served-by") as string;
			warm.set(node, (warm.get(node) ?? 0) + 1);
		}
		expect([...warm.values()]).toEqual([2, 2]);

		const renamed = await http(path, { method: "PATCH", headers: auth, json: { name: "After" } });
		expect(renamed.status).toBe(200);
		const after = new Map<string, string>();
		for (let i = 0; i < 4; i++) {
			const res = await http<PublicUser>(path, { headers: auth });
			after.set(res.headers.get("x-served-by") as string, res.body.name);
		}
		expect(Object.fromEntries(after)).toEqual(
			Object.fromEntries(cluster.users.map(b => [b.nodeID, "After"] as const))
		);
	});
});

describe("a users node whose reads fail with a retryable error", () => {
	let cluster: FakeCluster;
	let auth: { authorization: string };

	beforeAll(async () => {
		cluster = await startFakeCluster({ admin: ADMIN, usersMiddlewares: i => (i === 0 ? [failingGets()] : []) });
		auth = { authorization: `Bearer ${await login(cluster.baseUrl, ADMIN.email, ADMIN.password)}` };
	});
	afterAll(() => cluster?.close());

	it("is retried on the other node: every read answers 200 from the healthy one", async () => {
		const me = await http<PublicUser>(`${cluster.baseUrl}/auth/me`, { headers: auth });
		expect(me.status).toBe(200);
		const healthy = cluster.users[1].nodeID;
		for (let i = 0; i < 4; i++) {
			const res = await http<PublicUser>(`${cluster.baseUrl}/users/${me.body.id}`, { headers: auth });
			expect({ status: res.status, servedBy: res.headers.get("x-served-by") }).toEqual({
				status: 200,
				servedBy: healthy
			});
		}
	});
});
