import {
	authHeaders,
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
import { uniqueNamespace } from "../support/node-process";
import { waitFor } from "../support/redis-server";

describe("scaling up under load (1 → 3 users nodes)", () => {
	let cluster: Cluster;
	let gateway: Gateway;

	beforeAll(async () => {
		cluster = createCluster(process.env.TEST_REDIS_URL!, uniqueNamespace("scale-up"));
		cluster.startUsers("u1");
		gateway = await cluster.startGateway("g1");
		await waitForHealthy(gateway.url, 1);
	}, 30_000);

	afterAll(() => cluster?.stop(), 30_000);

	it("serves from the new nodes as soon as they join, without a failed request", async () => {
		const headers = await authHeaders(gateway.url);
		const ids = await seedUsers(gateway.url, headers, 5, "up");
		const load = startLoad({
			workers: 6,
			maxRequests: 4000,
			maxMs: 40_000,
			pauseMs: 5,
			request: i =>
				i % 10 === 9
					? request(
							`${gateway.url}/users`,
							{
								method: "POST",
								headers,
								json: { email: `up-${i}@cluster.test`, name: `Up ${i}`, password: "password-123" }
							},
							[201]
						)
					: i % 2
						? request(`${gateway.url}/users/${ids[i % ids.length]}`, { headers }, [200])
						: request(`${gateway.url}/users?page=1&pageSize=5`, { headers }, [200])
		});

		await waitFor(() => load.samples.length >= 100, { timeoutMs: 20_000, what: "100 requests on one node" });
		const scaledAt = load.samples.length;
		cluster.startUsers("u2");
		cluster.startUsers("u3");
		await waitFor(
			() => {
				const servedBy = new Set(load.samples.slice(scaledAt).map(s => s.servedBy));
				return servedBy.has("u2") && servedBy.has("u3");
			},
			{ timeoutMs: 30_000, what: "answers from u2 and u3" }
		);
		const joinedAt = load.samples.length;
		await waitFor(() => load.samples.length >= joinedAt + 300, { timeoutMs: 20_000, what: "300 more requests" });
		const samples = await load.stop();

		const after = samples.slice(joinedAt);
		const perNode = Object.fromEntries(
			["u1", "u2", "u3"].map(id => [id, after.filter(s => s.servedBy === id).length])
		);
		report("scale-up", { ...summarize(samples), afterJoin: perNode });

		expect(samples.filter(s => !s.ok)).toEqual([]);
		for (const id of ["u1", "u2", "u3"]) expect(perNode[id]).toBeGreaterThan(0);
	}, 90_000);
});
