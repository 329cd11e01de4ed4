import type { PublicUser } from "../../services/users/types";
import {
	awayFromWindowEdge,
	http,
	startNode,
	uniqueNamespace,
	waitForHealthy,
	type NodeProcess
} from "../support/node-process";
import { freePort, waitFor } from "../support/redis-server";

const redisUrl = () => process.env.TEST_REDIS_URL as string;
const WINDOW_MS = 60_000;

interface Node {
	node: NodeProcess;
	url: string;
}

async function startGatewayNode(nodeID: string, env: Record<string, string>): Promise<Node> {
	const port = await freePort();
	return {
		node: startNode({ services: "api", nodeID, env: { ...env, PORT: String(port) } }),
		url: `http://127.0.0.1:${port}`
	};
}

/** Sum of `moleculer_request_total` for `action` where it ran, from a node's Prometheus endpoint. */
async function handled(metricsUrl: string, action: string): Promise<number> {
	const res = await http<string>(metricsUrl);
	let total = 0;
	for (const line of res.text.split("\n")) {
		if (line.startsWith("moleculer_request_total{") && line.includes(`action="${action}"`)) {
			total += Number(line.slice(line.lastIndexOf(" ") + 1));
		}
	}
	return total;
}

describe("auth state cached by each gateway, revoked at once on every gateway (2 gateways, 2 users nodes)", () => {
	const namespace = uniqueNamespace("onehop");
	let gateways: Node[];
	let users: { node: NodeProcess; metrics: string }[];

	beforeAll(async () => {
		const env = { REDIS_URL: redisUrl(), NAMESPACE: namespace };
		users = await Promise.all(
			["u1", "u2"].map(async id => {
				const port = await freePort();
				return {
					node: startNode({
						services: "users",
						nodeID: `${namespace}-${id}`,
						env: { ...env, METRICS_PORT: String(port) }
					}),
					metrics: `http://127.0.0.1:${port}/metrics`
				};
			})
		);
		gateways = await Promise.all(["gwA", "gwB"].map(id => startGatewayNode(`${namespace}-${id}`, env)));
		for (const gw of gateways) await waitForHealthy(gw.url, 2);
	}, 60_000);

	afterAll(() => Promise.all([...users.map(u => u.node), ...gateways.map(g => g.node)].map(n => n?.stop())));

	async function signUpAndLogin(email: string, password: string): Promise<{ id: string; auth: object }> {
		const [a] = gateways;
		const created = await http<PublicUser>(`${a.url}/users`, {
			method: "POST",
			json: { email, name: "Hop", password }
		});
		expect(created.status).toBe(201);
		return { id: created.body.id, auth: await login(a.url, email, password) };
	}

	async function login(url: string, email: string, password: string): Promise<{ authorization: string }> {
		const res = await http<{ token: string }>(`${url}/auth/login`, { method: "POST", json: { email, password } });
		expect(res.status).toBe(200);
		return { authorization: `Bearer ${res.body.token}` };
	}

	const authStateCalls = async () =>
		(await Promise.all(users.map(u => handled(u.metrics, "users.authState")))).reduce((a, b) => a + b, 0);

	it("answers a known user's repeated requests without calling users.authState", async () => {
		const { id, auth } = await signUpAndLogin(`seen-${namespace}@example.com`, "password123");
		for (const gw of gateways) {
			expect((await http(`${gw.url}/users/${id}`, { headers: auth })).status).toBe(200);
		}
		const before = await authStateCalls();
		for (let i = 0; i < 10; i++) {
			const res = await http<PublicUser>(`${gateways[i % 2].url}/users/${id}`, { headers: auth });
			expect(res.status).toBe(200);
			expect(res.body.id).toBe(id);
		}
		expect(await authStateCalls()).toBe(before);
	});

	it("refuses the old token on gateway B right after a password change through gateway A", async () => {
		const [a, b] = gateways;
		const email = `pw-${namespace}@example.com`;
		const { id, auth } = await signUpAndLogin(email, "password123");
		// Both gateways hold the user's auth state.
		for (const gw of gateways) {
			for (let i = 0; i < 3; i++)
				expect((await http(`${gw.url}/users/${id}`, { headers: auth })).status).toBe(200);
		}

		const changed = await http(`${a.url}/users/${id}`, {
			method: "PATCH",
			headers: auth,
			json: { password: "new password 456", currentPassword: "password123" }
		});
		expect(changed.status).toBe(200);

		const old = await Promise.all([b, a, b, a].map(gw => http(`${gw.url}/users/${id}`, { headers: auth })));
		expect(old.map(r => r.status)).toEqual([401, 401, 401, 401]);
		const fresh = await login(b.url, email, "new password 456");
		expect((await http(`${b.url}/users/${id}`, { headers: fresh })).status).toBe(200);
	});

	it("refuses a deleted user's token on gateway B right after the DELETE through gateway A", async () => {
		const [a, b] = gateways;
		const { id, auth } = await signUpAndLogin(`del-${namespace}@example.com`, "password123");
		for (const gw of gateways) {
			for (let i = 0; i < 3; i++)
				expect((await http(`${gw.url}/users/${id}`, { headers: auth })).status).toBe(200);
		}

		expect((await http(`${a.url}/users/${id}`, { method: "DELETE", headers: auth })).status).toBe(204);

		const after = await Promise.all([b, a, b, a].map(gw => http(`${gw.url}/auth/me`, { headers: auth })));
		expect(after.map(r => r.status)).toEqual([401, 401, 401, 401]);
	});

	it("forgets every entry when a users node leaves, and still answers from the other", async () => {
		const { id, auth } = await signUpAndLogin(`leave-${namespace}@example.com`, "password123");
		for (const gw of gateways) expect((await http(`${gw.url}/users/${id}`, { headers: auth })).status).toBe(200);
		const before = await handled(users[0].metrics, "users.authState");

		await users[1].node.stop();
		for (const gw of gateways) {
			await waitFor(() => gw.node.output().includes(`Node '${users[1].node.nodeID}' disconnected`), {
				what: `${gw.node.nodeID} seeing ${users[1].node.nodeID} leave`
			});
		}
		// A node left: each gateway asks the remaining node once again.
		for (const gw of gateways) expect((await http(`${gw.url}/users/${id}`, { headers: auth })).status).toBe(200);
		expect(await handled(users[0].metrics, "users.authState")).toBe(before + 2);
	});
});

describe("one rate-limit budget across routes, two gateways over Redis", () => {
	const namespace = uniqueNamespace("onebudget");
	let gateways: Node[];
	let users: NodeProcess;

	beforeAll(async () => {
		const env = {
			REDIS_URL: redisUrl(),
			NAMESPACE: namespace,
			RATE_LIMIT_MAX: "3",
			LOGIN_RATE_LIMIT_MAX: "5",
			RATE_LIMIT_WINDOW_MS: String(WINDOW_MS)
		};
		users = startNode({ services: "users", nodeID: `${namespace}-u1`, env });
		gateways = await Promise.all(["gw1", "gw2"].map(id => startGatewayNode(`${namespace}-${id}`, env)));
		for (const gw of gateways) await waitForHealthy(gw.url, 1);
		await awayFromWindowEdge(WINDOW_MS);
	}, 60_000);

	afterAll(() => Promise.all([users, ...gateways.map(g => g.node)].map(n => n?.stop())));

	it("counts sign-up and reads in one budget on both gateways; login counts apart", async () => {
		const [gw1, gw2] = gateways;
		const email = `budget-${namespace}@example.com`;
		const signUp = await http(`${gw1.url}/users`, {
			method: "POST",
			json: { email, name: "B", password: "password123" }
		});
		const login = await http<{ token: string }>(`${gw2.url}/auth/login`, {
			method: "POST",
			json: { email, password: "password123" }
		});
		expect([signUp.status, login.status]).toEqual([201, 200]);
		const auth = { authorization: `Bearer ${login.body.token}` };
		const statuses: number[] = [];
		for (const gw of [gw2, gw1, gw2]) statuses.push((await http(`${gw.url}/users`, { headers: auth })).status);
		expect(statuses).toEqual([200, 200, 429]);
		// The login budget (5) is its own: the second login of the window still passes.
		const again = await http(`${gw1.url}/auth/login`, { method: "POST", json: { email, password: "password123" } });
		expect(again.status).toBe(200);
	});
});

describe("one in-memory rate-limit budget in the embedded node", () => {
	let node: Node;

	beforeAll(async () => {
		const port = await freePort();
		node = {
			node: startNode({
				services: "api,users",
				nodeID: uniqueNamespace("embedded"),
				env: { PORT: String(port), RATE_LIMIT_MAX: "3", RATE_LIMIT_WINDOW_MS: String(WINDOW_MS) }
			}),
			url: `http://127.0.0.1:${port}`
		};
		await waitForHealthy(node.url, 1);
		await awayFromWindowEdge(WINDOW_MS);
	}, 60_000);

	afterAll(() => node?.node.stop());

	it("RATE_LIMIT_MAX=3: sign-up, then GET /users → the third read (fourth request) is 429", async () => {
		const email = "embedded-budget@example.com";
		const signUp = await http(`${node.url}/users`, {
			method: "POST",
			json: { email, name: "E", password: "password123" }
		});
		expect(signUp.status).toBe(201);
		const login = await http<{ token: string }>(`${node.url}/auth/login`, {
			method: "POST",
			json: { email, password: "password123" }
		});
		expect(login.status).toBe(200);
		const auth = { authorization: `Bearer ${login.body.token}` };
		const statuses: number[] = [];
		for (let i = 0; i < 4; i++) statuses.push((await http(`${node.url}/users`, { headers: auth })).status);
		expect(statuses).toEqual([200, 200, 429, 429]);
		const limited = await http(`${node.url}/users`, { headers: auth });
		expect(limited.headers.get("x-rate-limit-remaining")).toBe("0");
	});
});
