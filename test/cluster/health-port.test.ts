import { createConnection } from "node:net";
import { clusterEnv } from "../support/cluster";
import { http, startNode, uniqueNamespace, waitForHealthy, type NodeProcess } from "../support/node-process";
import { freePort, startRedisServer, waitFor, type RedisServer } from "../support/redis-server";

/**
 * The health port (`HEALTH_PORT`, src/health.ts) of real nodes started from
 * dist, as the container healthcheck and Kubernetes probes reach it.
 */

interface ReadyBody {
	status: "ok" | "down";
	nodeID: string;
	failed: string[];
	checks: Record<string, { status: string; [key: string]: unknown }>;
}

const JSON_TYPE = "application/json; charset=utf-8";

function portOpen(port: number): Promise<boolean> {
	return new Promise(resolve => {
		const socket = createConnection({ port, host: "127.0.0.1" });
		socket.once("connect", () => {
			socket.destroy();
			resolve(true);
		});
		socket.once("error", () => resolve(false));
	});
}

async function ready(port: number) {
	return http<ReadyBody>(`http://127.0.0.1:${port}/ready`);
}

function waitForReady(port: number, status: number, what: string, timeoutMs = 20_000) {
	return waitFor(
		async () => {
			const res = await ready(port);
			return res.status === status ? res : false;
		},
		{ timeoutMs, intervalMs: 100, what }
	);
}

describe("the health port", () => {
	let redis: RedisServer;
	const nodes: NodeProcess[] = [];
	let env: Record<string, string>;
	let usersHealth: number;
	let gatewayHealth: number;
	let gatewayPort: number;

	function start(services: string, nodeID: string, extra: Record<string, string> = {}, args?: string[]) {
		const node = startNode({ services, nodeID, env: { ...env, ...extra }, args });
		nodes.push(node);
		return node;
	}

	beforeAll(async () => {
		redis = await startRedisServer();
		env = clusterEnv(redis.url, uniqueNamespace("health"));
		[usersHealth, gatewayHealth, gatewayPort] = await Promise.all([freePort(), freePort(), freePort()]);
	});

	afterAll(async () => {
		await Promise.all(nodes.map(n => n.stop("SIGTERM")));
		await redis?.destroy();
	}, 30_000);

	it("answers /live on a gateway before any users node, and /ready 503 naming the gateway check", async () => {
		start("api", "hp-g1", { PORT: String(gatewayPort), HEALTH_PORT: String(gatewayHealth) });
		const live = await waitFor(() => http(`http://127.0.0.1:${gatewayHealth}/live`), { what: "gateway /live" });
		expect(live.status).toBe(200);
		expect(live.headers.get("content-type")).toBe(JSON_TYPE);
		expect(live.body).toEqual({ status: "ok", nodeID: "hp-g1", uptimeSeconds: expect.any(Number) });

		const res = await waitFor(
			async () => {
				const r = await ready(gatewayHealth);
				return r.body.checks.broker.status === "ok" && r.body.checks.transporter.status === "ok" ? r : false;
			},
			{ what: "gateway started and joined" }
		);
		expect(res.status).toBe(503);
		expect(res.body.status).toBe("down");
		expect(res.body.failed).toEqual(["gateway"]);
		expect(res.body.checks.transporter).toEqual({ status: "ok", kind: "Redis", connected: true });
		expect(res.body.checks.gateway).toMatchObject({
			status: "down",
			draining: false,
			body: { status: "down", checks: { users: { status: "down", instances: 0 } } }
		});
	});

	it("answers /ready 200 on a users node and a gateway once both have joined", async () => {
		start("users", "hp-u1", { HEALTH_PORT: String(usersHealth) });
		const users = await waitForReady(usersHealth, 200, "users /ready 200");
		expect(users.body).toEqual({
			status: "ok",
			nodeID: "hp-u1",
			failed: [],
			checks: {
				broker: { status: "ok", state: "running" },
				transporter: { status: "ok", kind: "Redis", connected: true },
				users: { status: "ok", store: { kind: "redis", reachable: true, latencyMs: expect.any(Number) } }
			}
		});
		const gateway = await waitForReady(gatewayHealth, 200, "gateway /ready 200");
		expect(gateway.body.failed).toEqual([]);
		expect(gateway.body.checks.gateway).toMatchObject({ status: "ok", draining: false, body: { status: "ok" } });
		expect(gateway.body.checks.users).toBeUndefined();
	});

	it("serves /users/health on a users node with the body of the users.health action", async () => {
		const direct = await http<Record<string, unknown>>(`http://127.0.0.1:${usersHealth}/users/health`);
		expect(direct.status).toBe(200);
		expect(direct.headers.get("content-type")).toBe(JSON_TYPE);
		expect(direct.body).toEqual({
			status: "ok",
			nodeID: "hp-u1",
			store: { kind: "redis", reachable: true, latencyMs: expect.any(Number) }
		});
		// The gateway's route to the same action answers the same shape.
		await waitForHealthy(`http://127.0.0.1:${gatewayPort}`, 1);
		const viaGateway = await http<Record<string, unknown>>(`http://127.0.0.1:${gatewayPort}/users/health`);
		expect(Object.keys(viaGateway.body).sort()).toEqual(Object.keys(direct.body).sort());
		// Not on a gateway's health port: it has no users service.
		expect((await http(`http://127.0.0.1:${gatewayHealth}/users/health`)).status).toBe(404);
	});

	it("answers 404 for other paths and 405 for other methods", async () => {
		const missing = await http(`http://127.0.0.1:${usersHealth}/health`);
		expect(missing.status).toBe(404);
		expect(missing.body).toEqual({ status: "down", error: "NOT_FOUND", path: "/health" });
		const post = await http(`http://127.0.0.1:${usersHealth}/ready`, { method: "POST" });
		expect(post.status).toBe(405);
		expect(post.headers.get("allow")).toBe("GET, HEAD");
		expect(post.body).toEqual({ status: "down", error: "METHOD_NOT_ALLOWED", method: "POST" });
		const head = await fetch(`http://127.0.0.1:${usersHealth}/ready`, { method: "HEAD" });
		expect(head.status).toBe(200);
	});

	it("answers /ready 503 naming the store while Redis is away, keeps /live 200, and recovers by itself", async () => {
		await redis.stop();
		// Both checks see it: the transporter's connection closed, the store does not answer.
		const users = await waitFor(
			async () => {
				const r = await ready(usersHealth);
				return r.status === 503 && r.body.failed.length === 2 ? r : false;
			},
			{ what: "users /ready 503 naming the transporter and the store" }
		);
		expect(users.body.failed).toEqual(["transporter", "users"]);
		expect(users.body.checks.transporter).toEqual({ status: "down", kind: "Redis", connected: false });
		expect(users.body.checks.users).toMatchObject({ status: "down" });
		const gateway = await waitForReady(gatewayHealth, 503, "gateway /ready 503 without Redis");
		expect(gateway.body.failed).toContain("gateway");
		expect((await http(`http://127.0.0.1:${usersHealth}/live`)).status).toBe(200);
		expect((await http(`http://127.0.0.1:${usersHealth}/users/health`)).status).toBe(503);

		await redis.restart();
		await waitForReady(usersHealth, 200, "users /ready 200 after Redis is back", 40_000);
		await waitForReady(gatewayHealth, 200, "gateway /ready 200 after Redis is back", 40_000);
		expect(nodes.every(n => n.process.exitCode === null)).toBe(true);
	}, 90_000);

	it("answers /ready 503 `stopping` while a gateway drains, then closes with the node", async () => {
		const node = nodes.find(n => n.nodeID === "hp-g1")!;
		node.process.kill("SIGTERM");
		const stopping = await waitFor(
			async () => {
				const r = await ready(gatewayHealth);
				return r.status === 503 ? r : false;
			},
			{ timeoutMs: 5000, intervalMs: 20, what: "gateway /ready 503 while stopping" }
		);
		expect(stopping.body.checks.broker).toEqual({ status: "down", state: "stopping" });
		expect(stopping.body.failed).toContain("broker");
		expect(await node.exited).toBe(0);
		expect(await portOpen(gatewayHealth)).toBe(false);
	});

	it("answers /ready 200 with `embedded` on a node without a transporter", async () => {
		const port = await freePort();
		start("users", "hp-embedded", { REDIS_URL: "", HEALTH_PORT: String(port) });
		const res = await waitForReady(port, 200, "embedded /ready 200");
		expect(res.body.checks.transporter).toEqual({ status: "ok", kind: "embedded", connected: true });
		expect(res.body.checks.users).toMatchObject({ status: "ok", store: { kind: "memory", reachable: true } });
	});

	it("opens no health port on a bare (--no-services) node", async () => {
		const port = await freePort();
		const bare = start("users", "hp-bare", { HEALTH_PORT: String(port) }, ["--no-services"]);
		await waitFor(() => /started successfully/.test(bare.output()), { what: "bare node started" });
		expect(await portOpen(port)).toBe(false);
	});
});
