import { createCluster, exitCode, report, waitForHealthy, type Cluster, type Gateway } from "../support/cluster";
import { http, uniqueNamespace } from "../support/node-process";

/**
 * A gateway whose calls time out (REQUEST_TIMEOUT_MS=100 against scrypt
 * sign-ups) must still stop at once on SIGTERM: a timed-out call leaves no
 * tracked context behind for the graceful stop to wait for
 * (src/abandoned-calls.ts).
 */
describe("graceful stop after timed-out calls", () => {
	let cluster: Cluster;
	let gateway: Gateway;

	beforeAll(async () => {
		cluster = createCluster(process.env.TEST_REDIS_URL!, uniqueNamespace("stop"), { REQUEST_TIMEOUT_MS: "100" });
		cluster.startUsers("u1");
		gateway = await cluster.startGateway("g1");
		await waitForHealthy(gateway.url, 1);
	}, 40_000);

	afterAll(() => cluster?.stop(), 30_000);

	it("exits 0 within 3 s of SIGTERM after 12 concurrent sign-ups mostly answered 504", async () => {
		const statuses = await Promise.all(
			Array.from({ length: 12 }, async (_, i) => {
				const res = await http(`${gateway.url}/users`, {
					method: "POST",
					json: { email: `stop-${i}@cluster.test`, name: `Stop ${i}`, password: "password-123" }
				});
				return res.status;
			})
		);
		expect(statuses.every(s => s === 201 || s === 504)).toBe(true);
		expect(statuses.filter(s => s === 504).length).toBeGreaterThan(0);

		const signalled = performance.now();
		gateway.node.process.kill("SIGTERM");
		expect(await exitCode(gateway.node, 3_000)).toBe(0);
		report("graceful stop after timeouts", { statuses, exitMs: Math.round(performance.now() - signalled) });
		expect(gateway.node.output()).not.toMatch(/GracefulStopTimeoutError|Waiting for \d+ running context/);
	});
});
