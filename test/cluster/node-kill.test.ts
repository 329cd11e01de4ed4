import {
	authHeaders,
	carefulSignUps,
	createCluster,
	report,
	request,
	seedUsers,
	startLoad,
	summarize,
	waitForHealthy,
	type Cluster,
	type Gateway
} from "../support/cluster";
import { http, uniqueNamespace } from "../support/node-process";
import { waitFor } from "../support/redis-server";

/** Requests may wait for a timeout and a retry here: the client waits longer than the cluster does. */
const CLIENT_TIMEOUT_MS = 30_000;

describe("SIGKILL of one of three users nodes under load", () => {
	let cluster: Cluster;
	let gateway: Gateway;

	beforeAll(async () => {
		cluster = createCluster(process.env.TEST_REDIS_URL!, uniqueNamespace("kill"));
		for (const id of ["u1", "u2", "u3"]) cluster.startUsers(id);
		gateway = await cluster.startGateway("g1");
		await waitForHealthy(gateway.url, 3);
	}, 40_000);

	afterAll(() => cluster?.stop(), 30_000);

	it("answers every read, routes around the dead node and never duplicates a write", async () => {
		const headers = await authHeaders(gateway.url);
		const ids = await seedUsers(gateway.url, headers, 5, "kill");
		const signal = () => AbortSignal.timeout(CLIENT_TIMEOUT_MS);

		const { writes, signUp } = carefulSignUps({
			url: `${gateway.url}/users`,
			headers,
			attempts: 4,
			timeoutMs: CLIENT_TIMEOUT_MS,
			body: i => ({ email: `kill-w${i}@cluster.test`, name: `Kill ${i}`, password: "password-123" })
		});

		const load = startLoad({
			workers: 6,
			maxRequests: 5000,
			maxMs: 45_000,
			pauseMs: 5,
			request: i =>
				i % 8 === 7
					? signUp(i)
					: i % 2
						? request(`${gateway.url}/users/${ids[i % ids.length]}`, { headers, signal: signal() }, [200])
						: request(`${gateway.url}/users?page=1&pageSize=5`, { headers, signal: signal() }, [200])
		});
		const started = Date.now();
		await waitFor(() => load.samples.length >= 200, { timeoutMs: 20_000, what: "a baseline of 200 requests" });

		const killedAt = Date.now() - started;
		cluster.users[1].process.kill("SIGKILL");
		await waitForHealthy(gateway.url, 2, 30_000);
		const noticedMs = Date.now() - started - killedAt;
		const settled = load.samples.length;
		await waitFor(() => load.samples.length >= settled + 200, { timeoutMs: 20_000, what: "200 requests after" });
		const samples = await load.stop();

		const reads = samples.filter(s => s.method === "GET");
		const baseline = reads.filter(s => s.at + s.ms < killedAt);
		const during = reads.filter(s => s.at >= killedAt && s.at < killedAt + noticedMs);
		const after = reads.filter(s => s.at >= killedAt + noticedMs);
		const stored = await http<{ total: number }>(`${gateway.url}/users?q=kill-w&pageSize=1`, { headers });
		const answered = [...writes.values()].filter(w => w.statuses.some(s => s === 201 || s === 409));
		report("node-kill", {
			requests: samples.length,
			readFailures: reads.filter(s => !s.ok).length,
			noticedMs,
			readsBefore: summarize(baseline),
			readsUntilNoticed: summarize(during),
			readsAfter: summarize(after),
			writes: writes.size,
			writesRetried: [...writes.values()].filter(w => w.statuses.length > 1).length,
			writeStatuses: [...writes.values()]
				.flatMap(w => w.statuses)
				.reduce<Record<number, number>>((m, s) => ({ ...m, [s]: (m[s] ?? 0) + 1 }), {}),
			stored: stored.body.total
		});

		expect(reads.filter(s => !s.ok)).toEqual([]);
		expect(after.every(s => s.servedBy !== "u2")).toBe(true);
		// One user per sign-up, whatever the retries; a key that got 201 twice got the same user.
		expect(stored.body.total).toBe(answered.length);
		for (const w of writes.values()) expect(new Set(w.ids).size).toBeLessThanOrEqual(1);
	}, 110_000);
});
