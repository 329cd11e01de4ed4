import { randomUUID } from "node:crypto";
import { authHeaders, createCluster, report, waitForHealthy, type Cluster, type Gateway } from "../support/cluster";
import { http, uniqueNamespace } from "../support/node-process";

/** Sends `n` sign-ups at once, alternating between the gateways. */
function burst(
	gateways: Gateway[],
	n: number,
	body: (i: number) => unknown,
	headers: (i: number) => Record<string, string> = () => ({})
) {
	return Promise.all(
		Array.from({ length: n }, (_, i) =>
			http<{ id?: string; type?: string }>(`${gateways[i % gateways.length].url}/users`, {
				method: "POST",
				headers: headers(i),
				json: body(i),
				signal: AbortSignal.timeout(30_000)
			})
		)
	);
}

function tally(statuses: number[]): Record<number, number> {
	return statuses.reduce<Record<number, number>>((m, s) => ({ ...m, [s]: (m[s] ?? 0) + 1 }), {});
}

describe("concurrent sign-ups over two gateways and three users nodes", () => {
	let cluster: Cluster;
	let gateways: Gateway[];
	let auth: Record<string, string>;

	beforeAll(async () => {
		// 50 scrypt hashes at once on two shared cores can take longer than the
		// default 5 s; this test is about uniqueness, not latency.
		cluster = createCluster(process.env.TEST_REDIS_URL!, uniqueNamespace("signups"), {
			REQUEST_TIMEOUT_MS: "30000"
		});
		for (const id of ["u1", "u2", "u3"]) cluster.startUsers(id);
		gateways = [await cluster.startGateway("g1"), await cluster.startGateway("g2")];
		await Promise.all(gateways.map(g => waitForHealthy(g.url, 3)));
		auth = await authHeaders(gateways[0].url);
	}, 40_000);

	afterAll(() => cluster?.stop(), 30_000);

	it("creates one user for 50 sign-ups with one email: one 201, 49 × 409 EMAIL_TAKEN", async () => {
		const email = `same-${randomUUID()}@cluster.test`;
		const answers = await burst(gateways, 50, i => ({ email, name: `Racer ${i}`, password: "password-123" }));
		const stored = await http<{ total: number }>(`${gateways[1].url}/users?q=${encodeURIComponent(email)}`, {
			headers: auth
		});
		const servedBy = new Set(answers.map(a => a.headers.get("x-served-by")));
		report("concurrent-signups", {
			requests: 50,
			statuses: tally(answers.map(a => a.status)),
			servedBy: [...servedBy],
			stored: stored.body.total
		});

		expect(answers.filter(a => a.status === 201)).toHaveLength(1);
		expect(answers.filter(a => a.status === 409 && a.body.type === "EMAIL_TAKEN")).toHaveLength(49);
		expect(stored.body.total).toBe(1);
		expect(servedBy.size).toBe(3);
	});

	it("runs 20 concurrent sign-ups with one Idempotency-Key once and replays its answer to all", async () => {
		const key = randomUUID();
		const email = `keyed-${randomUUID()}@cluster.test`;
		const answers = await burst(
			gateways,
			20,
			() => ({ email, name: "Keyed", password: "password-123" }),
			() => ({ "idempotency-key": key })
		);
		const replayed = answers.filter(a => a.headers.get("idempotent-replayed") === "true");
		report("idempotent-signups", {
			requests: 20,
			statuses: tally(answers.map(a => a.status)),
			replayed: replayed.length
		});

		expect(answers.map(a => a.status)).toEqual(answers.map(() => 201));
		expect(new Set(answers.map(a => a.body.id)).size).toBe(1);
		expect(new Set(answers.map(a => a.headers.get("location"))).size).toBe(1);
		expect(replayed).toHaveLength(19);

		const again = await http(`${gateways[0].url}/users`, {
			method: "POST",
			headers: { "idempotency-key": key },
			json: { email, name: "Someone else", password: "password-123" }
		});
		expect(again.status).toBe(422);
		expect(again.body).toEqual({
			name: "IdempotencyKeyReusedError",
			message: "Idempotency-Key was already used with a different request",
			code: 422,
			type: "IDEMPOTENCY_KEY_REUSED"
		});
	});
});
