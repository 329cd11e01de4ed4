import type { Balancer } from "../../scripts/balancer";
import {
	authHeaders,
	balance,
	createCluster,
	exitCode,
	report,
	request,
	seedUsers,
	startLoad,
	summarize,
	waitForHealthy,
	type Cluster,
	type Gateway
} from "../support/cluster";
import { http, uniqueNamespace, type NodeProcess } from "../support/node-process";
import { waitFor } from "../support/redis-server";

describe("scaling down under load with SIGTERM (3 → 1 users nodes, gateway restart)", () => {
	let cluster: Cluster;
	let g1: Gateway;
	let g2: Gateway;
	let lb: Balancer;

	beforeAll(async () => {
		cluster = createCluster(process.env.TEST_REDIS_URL!, uniqueNamespace("scale-down"));
		for (const id of ["u1", "u2", "u3"]) cluster.startUsers(id);
		g1 = await cluster.startGateway("g1");
		g2 = await cluster.startGateway("g2");
		await Promise.all([waitForHealthy(g1.url, 3), waitForHealthy(g2.url, 3)]);
		lb = await balance([g1, g2]);
	}, 40_000);

	afterAll(async () => {
		await lb?.close();
		await cluster?.stop();
	}, 30_000);

	it("loses no request: every node exits 0, every write is stored once", async () => {
		const headers = await authHeaders(lb.url);
		const ids = await seedUsers(lb.url, headers, 5, "down");
		const load = startLoad({
			workers: 6,
			maxRequests: 5000,
			maxMs: 45_000,
			pauseMs: 5,
			request: i =>
				i % 5 === 4
					? request(
							`${lb.url}/users`,
							{
								method: "POST",
								headers,
								json: { email: `down-w${i}@cluster.test`, name: `Down ${i}`, password: "password-123" }
							},
							[201]
						)
					: i % 2
						? request(`${lb.url}/users/${ids[i % ids.length]}`, { headers }, [200])
						: request(`${lb.url}/users?page=1&pageSize=5`, { headers }, [200])
		});
		const [u1, u2, u3] = cluster.users;
		const events: Record<string, number> = {};
		const t0 = Date.now();
		const phase = async (label: string, action: () => Promise<unknown>) => {
			const from = load.samples.length;
			events[label] = Date.now() - t0;
			await action();
			await waitFor(() => load.samples.length >= from + 100, { timeoutMs: 20_000, what: `load after ${label}` });
		};
		await waitFor(() => load.samples.length >= 100, { timeoutMs: 20_000, what: "load on 3 nodes" });

		const exits: Record<string, number | null> = {};
		const stopMs: Record<string, number> = {};
		const terminate = async (node: NodeProcess) => {
			const sent = Date.now();
			node.process.kill("SIGTERM");
			const code = await exitCode(node);
			stopMs[node.nodeID] = Date.now() - sent;
			return code;
		};
		await phase("u3 stop", async () => (exits.u3 = await terminate(u3)));
		await phase("u2 stop", async () => (exits.u2 = await terminate(u2)));
		const restartedAt = Date.now();
		await phase("g1 restart", async () => {
			exits.g1 = await terminate(g1.node);
			const again = await cluster.startGateway("g1b", g1.port);
			await waitForHealthy(again.url, 1);
		});
		const gatewayBackMs = Date.now() - restartedAt;
		const samples = await load.stop();

		const lastPhase = samples.slice(-100);
		const writes = samples.filter(s => s.method === "POST");
		const created = writes.filter(s => s.status === 201).length;
		const stored = await http<{ total: number }>(`${lb.url}/users?q=down-w&pageSize=1`, { headers });
		report("scale-down", {
			...summarize(samples),
			writes: writes.length,
			created,
			stored: stored.body.total,
			exits,
			stopMs,
			gatewayBackMs,
			events,
			lastPhaseServedBy: [...new Set(lastPhase.map(s => s.servedBy))]
		});

		expect(samples.filter(s => !s.ok)).toEqual([]);
		expect(exits).toEqual({ u3: 0, u2: 0, g1: 0 });
		expect(stored.body.total).toBe(created);
		expect(lastPhase.every(s => s.servedBy === u1.nodeID)).toBe(true);
	}, 100_000);
});
