import {
	authHeaders,
	createCluster,
	report,
	seedUsers,
	waitForHealthy,
	type Cluster,
	type Gateway
} from "../support/cluster";
import { http, uniqueNamespace } from "../support/node-process";
import { startRedisServer, waitFor, type RedisServer } from "../support/redis-server";

describe("Redis stop and restart (AOF on)", () => {
	let redis: RedisServer;
	let cluster: Cluster;
	let gateway: Gateway;

	beforeAll(async () => {
		redis = await startRedisServer({ appendOnly: true });
		cluster = createCluster(redis.url, uniqueNamespace("redis"));
		cluster.startUsers("u1");
		cluster.startUsers("u2");
		gateway = await cluster.startGateway("g1");
		await waitForHealthy(gateway.url, 2);
	}, 40_000);

	afterAll(async () => {
		await cluster?.stop();
		await redis?.destroy();
	}, 30_000);

	it("answers 503 while Redis is away and recovers by itself with every acknowledged write", async () => {
		const headers = await authHeaders(gateway.url);
		const ids = await seedUsers(gateway.url, headers, 20, "redis");

		const stoppedAt = Date.now();
		await redis.stop();
		const down = await waitFor(
			async () => {
				const res = await http(`${gateway.url}/health`);
				return res.status === 503 ? res : false;
			},
			{ timeoutMs: 15_000, intervalMs: 100, what: "/health 503 while Redis is down" }
		);
		const unhealthyAfterMs = Date.now() - stoppedAt;
		const live = await http(`${gateway.url}/health/live`);
		const write = await http(`${gateway.url}/users`, {
			method: "POST",
			headers,
			json: { email: "during-outage@cluster.test", name: "Outage", password: "password-123" },
			signal: AbortSignal.timeout(20_000)
		});
		// The outage lasts until heartbeats have timed out: the gateway has dropped both users nodes.
		await waitFor(
			async () => {
				const res = await http<{ checks?: { users?: { instances?: number } } }>(`${gateway.url}/health`);
				return res.body.checks?.users?.instances === 0;
			},
			{ timeoutMs: 30_000, intervalMs: 250, what: "the gateway to drop both users nodes" }
		);
		const outageMs = Date.now() - stoppedAt;

		await redis.restart();
		const restartedAt = Date.now();
		await waitForHealthy(gateway.url, 2, 30_000).catch(err => {
			// What a node printed last tells why it did not come back.
			for (const n of cluster.users.concat(gateway.node)) {
				console.error(`${n.nodeID} exit=${n.process.exitCode}\n${n.output().slice(-2000)}`);
			}
			throw err;
		});
		const recoveryMs = Date.now() - restartedAt;

		const reads = await Promise.all(ids.map(id => http(`${gateway.url}/users/${id}`, { headers })));
		const after = await http(`${gateway.url}/users`, {
			method: "POST",
			headers,
			json: { email: "after-outage@cluster.test", name: "After", password: "password-123" }
		});
		const exits = cluster.users.concat(gateway.node).map(n => n.process.exitCode);
		report("redis-restart", {
			acknowledgedWrites: ids.length,
			foundAfterRestart: reads.filter(r => r.status === 200).length,
			unhealthyAfterMs,
			outageMs,
			recoveryMs,
			writeDuringOutage: write.status,
			liveDuringOutage: live.status,
			exits
		});

		expect(down.status).toBe(503);
		expect(live.status).toBe(200);
		expect([503, 504]).toContain(write.status);
		expect(reads.map(r => r.status)).toEqual(ids.map(() => 200));
		expect(after.status).toBe(201);
		expect(exits).toEqual([null, null, null]);
	}, 100_000);
});
