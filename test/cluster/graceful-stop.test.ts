import { createCluster, exitCode, report, waitForHealthy, type Cluster, type Gateway } from "../support/cluster";
import { request } from "node:http";
import { uniqueNamespace } from "../support/node-process";

/**
 * POSTs JSON on a connection of its own, closed after the answer: no idle
 * keep-alive connection is left for the gateway's drain to wait out.
 */
function postOnce(url: string, body: unknown): Promise<number> {
	return new Promise((resolve, reject) => {
		const req = request(
			url,
			{ method: "POST", agent: false, headers: { "content-type": "application/json" } },
			res => {
				res.resume();
				res.on("end", () => resolve(res.statusCode ?? 0));
			}
		);
		req.on("error", reject);
		req.end(JSON.stringify(body));
	});
}

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

	it("exits 0 on SIGTERM without waiting for its timed-out calls (12 concurrent sign-ups, most 504)", async () => {
		const statuses = await Promise.all(
			Array.from({ length: 12 }, (_, i) =>
				postOnce(`${gateway.url}/users`, {
					email: `stop-${i}@cluster.test`,
					name: `Stop ${i}`,
					password: "password-123"
				})
			)
		);
		expect(statuses.every(s => s === 201 || s === 504)).toBe(true);
		expect(statuses.filter(s => s === 504).length).toBeGreaterThan(0);

		const signalled = performance.now();
		gateway.node.process.kill("SIGTERM");
		// Waiting for the timed-out calls would take the whole 10 s shutdownTimeout
		// (11.6 s in all); a stop that does not wait is the 1 s drain delay plus
		// a few hundred ms, more on a loaded machine.
		expect(await exitCode(gateway.node, 9_000)).toBe(0);
		report("graceful stop after timeouts", { statuses, exitMs: Math.round(performance.now() - signalled) });
		expect(gateway.node.output()).not.toMatch(/GracefulStopTimeoutError|Waiting for \d+ running context/);
	});
});
