import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createConnection } from "node:net";
import type { PublicUser } from "../../services/users/types";
import { freePort, waitFor } from "../support/redis-server";
import { http, startNode, uniqueNamespace, waitForHealthy, type NodeProcess } from "../support/node-process";

/** A private `nats-server` on a free port (or `TEST_NATS_URL`). */
const hasNatsServer = spawnSync("nats-server", ["--version"]).status === 0;
const describeNats = process.env.TEST_NATS_URL || hasNatsServer ? describe : describe.skip;
if (describeNats === describe.skip) {
	console.warn("NATS transporter test skipped: no nats-server on the PATH and no TEST_NATS_URL");
}

/**
 * The code is transport-agnostic: the same nodes over NATS
 * (`TRANSPORTER=nats://…`), with Redis still the store, cache and rate-limit
 * counters.
 */
describeNats("cluster over the NATS transporter", () => {
	const namespace = uniqueNamespace("nats");
	let natsServer: ChildProcess | undefined;
	const env: Record<string, string | undefined> = {
		TRANSPORTER: process.env.TEST_NATS_URL,
		REDIS_URL: process.env.TEST_REDIS_URL,
		NAMESPACE: namespace,
		ADMIN_EMAIL: "nats-admin@example.com",
		ADMIN_PASSWORD: "nats password 1"
	};
	let nodes: NodeProcess[];
	let url: string;

	beforeAll(async () => {
		if (!env.TRANSPORTER) {
			const natsPort = await freePort();
			natsServer = spawn("nats-server", ["-a", "127.0.0.1", "-p", String(natsPort)], { stdio: "ignore" });
			await waitFor(
				() =>
					new Promise<boolean>(resolve => {
						const socket = createConnection(natsPort, "127.0.0.1", () => {
							socket.end();
							resolve(true);
						});
						socket.on("error", () => resolve(false));
					}),
				{ what: "nats-server" }
			);
			env.TRANSPORTER = `nats://127.0.0.1:${natsPort}`;
		}
		const port = await freePort();
		url = `http://127.0.0.1:${port}`;
		nodes = [
			startNode({ services: "api", nodeID: `${namespace}-gw`, env: { ...env, PORT: String(port) } }),
			startNode({ services: "users", nodeID: `${namespace}-u1`, env }),
			startNode({ services: "users", nodeID: `${namespace}-u2`, env })
		];
		await waitForHealthy(url, 2);
	});
	afterAll(async () => {
		await Promise.all(nodes.map(n => n.stop()));
		natsServer?.kill("SIGTERM");
	});

	it("logs the NATS transporter and serves users from both nodes", async () => {
		expect(nodes[0].output()).toContain("NatsTransporter");
		const created = await http<PublicUser>(`${url}/users`, {
			method: "POST",
			json: { email: `n-${namespace}@example.com`, name: "Nats", password: "password123" }
		});
		expect(created.status).toBe(201);
		const login = await http<{ token: string }>(`${url}/auth/login`, {
			method: "POST",
			json: { email: "nats-admin@example.com", password: "nats password 1" }
		});
		const served = new Set<string>();
		for (let i = 0; i < 8; i++) {
			const res = await http<PublicUser>(`${url}/users/${created.body.id}`, {
				headers: { authorization: `Bearer ${login.body.token}` }
			});
			expect(res.status).toBe(200);
			expect(res.body).toEqual(created.body);
			served.add(res.headers.get("x-served-by") as string);
		}
		expect([...served].sort()).toEqual([`${namespace}-u1`, `${namespace}-u2`]);
	});
});
