import { mkdtempSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type { ChildProcess } from "node:child_process";
import {
	authHeaders,
	carefulSignUps,
	clusterEnv,
	report,
	request,
	seedUsers,
	startLoad,
	summarize,
	waitForHealthy,
	type Sample
} from "../support/cluster";
import { http, uniqueNamespace, type NodeProcess } from "../support/node-process";
import { waitFor } from "../support/redis-server";
import { createHosts, netnsUnavailable, removeLeftovers, setLink, spawnOn, startNodeOn, type Host } from "./netns";

/**
 * The cluster with each node on its own host (network namespaces on a
 * bridge, test/hosts/netns.ts): Redis (and a NATS server) on one host, two
 * users nodes on two others, a gateway on a fourth, the client (this test)
 * in the root namespace. Once over the Redis transporter, once over NATS.
 */

const unavailable = netnsUnavailable();
if (unavailable) {
	console.warn(`Cross-host tests SKIPPED: network namespaces cannot be created here: ${unavailable}`);
}
const describeHosts = unavailable ? describe.skip : describe;
const TITLE = unavailable
	? `a cluster across hosts (SKIPPED: network namespaces unavailable: ${unavailable})`
	: "a cluster across hosts (network namespaces)";

const REDIS_PORT = 6379;
const NATS_PORT = 4222;
const PORT = 3001;
const HEALTH_PORT = 3002;
/** Reads may wait for a timeout and retries while a host is cut: the client waits longer than the cluster. */
const CLIENT_TIMEOUT_MS = 30_000;

function tcpOpen(host: string, port: number): Promise<boolean> {
	return new Promise(resolve => {
		const socket = createConnection({ host, port, timeout: 1000 });
		socket.once("connect", () => {
			socket.destroy();
			resolve(true);
		});
		socket.once("timeout", () => {
			socket.destroy();
			resolve(false);
		});
		socket.once("error", () => resolve(false));
	});
}

function stopChild(child: ChildProcess | undefined): Promise<void> {
	if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
	return new Promise(resolve => {
		const kill = setTimeout(() => child.kill("SIGKILL"), 15_000);
		child.once("exit", () => {
			clearTimeout(kill);
			resolve();
		});
		child.kill("SIGTERM");
	});
}

const count = (samples: Sample[]) =>
	samples.reduce<Record<string, number>>(
		(m, s) => ({ ...m, [s.servedBy ?? s.status]: (m[s.servedBy ?? s.status] ?? 0) + 1 }),
		{}
	);

describeHosts(TITLE, () => {
	let redisHost: Host;
	let u1Host: Host;
	let u2Host: Host;
	let gwHost: Host;
	let redis: ChildProcess | undefined;
	let nats: ChildProcess | undefined;
	let dataDir: string;

	beforeAll(async () => {
		removeLeftovers();
		[redisHost, u1Host, u2Host, gwHost] = createHosts(["redis", "u1", "u2", "gw"]);
		dataDir = mkdtempSync(path.join(tmpdir(), "rncp-hosts-"));
		// No persistence: this Redis lives for the test run only.
		redis = spawnOn(redisHost, "redis-server", [
			"--bind",
			redisHost.address,
			"--port",
			String(REDIS_PORT),
			"--dir",
			dataDir,
			"--save",
			"",
			"--appendonly",
			"no",
			"--protected-mode",
			"no",
			"--loglevel",
			"warning"
		]);
		nats = spawnOn(redisHost, "nats-server", ["-a", redisHost.address, "-p", String(NATS_PORT)]);
		await waitFor(() => tcpOpen(redisHost.address, REDIS_PORT), { what: "redis-server on its host" });
		await waitFor(() => tcpOpen(redisHost.address, NATS_PORT), { what: "nats-server on its host" });
	}, 30_000);

	afterAll(async () => {
		await Promise.all([stopChild(redis), stopChild(nats)]);
		removeLeftovers();
		if (dataDir) rmSync(dataDir, { recursive: true, force: true });
	}, 30_000);

	describe.each([
		["Redis", () => undefined],
		["NATS", () => `nats://${redisHost.address}:${NATS_PORT}`]
	])("over the %s transporter", (transporter, transporterUrl) => {
		const nodes: NodeProcess[] = [];
		let gatewayUrl: string;
		let headers: Record<string, string>;
		let ids: string[];
		const healthUrl = (host: Host, path: string) => `http://${host.address}:${HEALTH_PORT}${path}`;

		beforeAll(async () => {
			const env: Record<string, string> = {
				...clusterEnv(`redis://${redisHost.address}:${REDIS_PORT}`, uniqueNamespace(`hosts-${transporter}`)),
				HEALTH_PORT: String(HEALTH_PORT)
			};
			const url = transporterUrl();
			if (url) env.TRANSPORTER = url;
			nodes.push(startNodeOn(u1Host, "users", "u1", env));
			nodes.push(startNodeOn(u2Host, "users", "u2", env));
			nodes.push(startNodeOn(gwHost, "api", "g1", { ...env, PORT: String(PORT) }));
			gatewayUrl = `http://${gwHost.address}:${PORT}`;
			await waitForHealthy(gatewayUrl, 2, 40_000);
			headers = await authHeaders(gatewayUrl);
			ids = await seedUsers(gatewayUrl, headers, 5, `hosts-${transporter.toLowerCase()}`);
		}, 60_000);

		afterAll(async () => {
			// Every cable back in, whatever a failed test left cut.
			for (const host of [redisHost, u1Host, u2Host, gwHost]) if (host) setLink(host, true);
			await Promise.all(nodes.map(n => stopChild(n.process)));
		}, 30_000);

		it("answers through the gateway host, spread over both users hosts", async () => {
			const servedBy = new Set<string>();
			for (let i = 0; i < 20; i++) {
				const res = await http(`${gatewayUrl}/users/${ids[i % ids.length]}`, { headers });
				expect(res.status).toBe(200);
				servedBy.add(res.headers.get("x-served-by") ?? "none");
			}
			expect([...servedBy].sort()).toEqual(["u1", "u2"]);
			for (const host of [u1Host, u2Host, gwHost]) {
				expect((await http(healthUrl(host, "/ready"))).status).toBe(200);
			}
		});

		it("routes around a cut users host under load, loses no write, and takes the host back by itself", async () => {
			const signal = () => AbortSignal.timeout(CLIENT_TIMEOUT_MS);
			const tag = `part-${transporter.toLowerCase()}`;
			const { writes, signUp } = carefulSignUps({
				url: `${gatewayUrl}/users`,
				headers,
				attempts: 5,
				timeoutMs: CLIENT_TIMEOUT_MS,
				body: i => ({ email: `${tag}-w${i}@hosts.test`, name: `Partition ${i}`, password: "password-123" })
			});
			const load = startLoad({
				workers: 4,
				maxRequests: 6000,
				maxMs: 100_000,
				pauseMs: 10,
				request: i =>
					i % 10 === 9
						? signUp(i)
						: request(`${gatewayUrl}/users/${ids[i % ids.length]}`, { headers, signal: signal() }, [200])
			});
			const t0 = Date.now();
			try {
				await waitFor(() => load.samples.length >= 100, {
					timeoutMs: 20_000,
					what: "100 requests before the cut"
				});

				const cutAt = Date.now() - t0;
				setLink(u1Host, false);
				// The gateway has dropped u1 (heartbeat timeout) and answers healthy with u2 alone.
				await waitForHealthy(gatewayUrl, 1, 40_000);
				const routedAroundMs = Date.now() - t0 - cutAt;
				const settled = load.samples.length;
				await waitFor(() => load.samples.length >= settled + 150, {
					timeoutMs: 30_000,
					what: "150 requests after routing around"
				});

				const healAt = Date.now() - t0;
				setLink(u1Host, true);
				await waitForHealthy(gatewayUrl, 2, 60_000);
				const rejoinedMs = Date.now() - t0 - healAt;
				await waitFor(() => load.samples.some(s => s.at > healAt + rejoinedMs && s.servedBy === "u1"), {
					timeoutMs: 20_000,
					what: "a read served by u1 again"
				});
				const servesAgainMs = Date.now() - t0 - healAt;
				const samples = await load.stop();

				const reads = samples.filter(s => s.method === "GET");
				const before = reads.filter(s => s.at + s.ms < cutAt);
				const untilRouted = reads.filter(s => s.at >= cutAt && s.at < cutAt + routedAroundMs);
				const routed = reads.filter(s => s.at >= cutAt + routedAroundMs && s.at < healAt);
				const afterHeal = reads.filter(s => s.at >= healAt + rejoinedMs);
				const answered = [...writes.values()].filter(w => w.statuses.some(s => s === 201 || s === 409));
				const stored = await http<{ total: number }>(`${gatewayUrl}/users?q=${tag}-w&pageSize=1`, { headers });
				report(`cross-host partition (${transporter} transporter)`, {
					routedAroundMs,
					rejoinedMs,
					servesAgainMs,
					requests: samples.length,
					readFailuresUntilRouted: untilRouted.filter(s => !s.ok).length,
					readFailuresAfterRouted: [...routed, ...afterHeal].filter(s => !s.ok).length,
					readsBefore: summarize(before),
					readsUntilRouted: summarize(untilRouted),
					readsRouted: { ...summarize(routed), servedBy: count(routed) },
					readsAfterHeal: { ...summarize(afterHeal), servedBy: count(afterHeal) },
					writes: writes.size,
					writesRetried: [...writes.values()].filter(w => w.statuses.length > 1).length,
					writeStatuses: count(
						[...writes.values()].flatMap(w => w.statuses.map(status => ({ status }) as Sample))
					),
					stored: stored.body.total
				});

				// After the heartbeat timeout no read fails, and none goes to the cut host.
				expect(routed.filter(s => !s.ok)).toEqual([]);
				expect(routed.some(s => s.servedBy === "u1")).toBe(false);
				expect(afterHeal.filter(s => !s.ok)).toEqual([]);
				// One user per sign-up, whatever the retries; a key that got 201 twice got the same user.
				expect(answered.length).toBe(writes.size);
				expect(stored.body.total).toBe(writes.size);
				for (const w of writes.values()) expect(new Set(w.ids).size).toBeLessThanOrEqual(1);
				expect((await http(healthUrl(u1Host, "/ready"))).status).toBe(200);
				expect(nodes.every(n => n.process.exitCode === null)).toBe(true);
			} finally {
				setLink(u1Host, true);
				await load.stop();
			}
		}, 200_000);

		it("answers 503 on /ready and /health while the Redis host is cut, and recovers by itself", async () => {
			const probes = {
				gatewayReady: healthUrl(gwHost, "/ready"),
				gatewayHealth: `${gatewayUrl}/health`,
				usersReady: healthUrl(u1Host, "/ready")
			};
			const status = async (url: string) => (await http(url, { signal: AbortSignal.timeout(10_000) })).status;
			const cutAt = Date.now();
			setLink(redisHost, false);
			try {
				const down: Record<string, number> = {};
				await Promise.all(
					Object.entries(probes).map(async ([name, url]) => {
						await waitFor(async () => (await status(url)) === 503, {
							timeoutMs: 30_000,
							what: `${name} 503`
						});
						down[name] = Date.now() - cutAt;
					})
				);
				const failed = await http<{ failed: string[] }>(probes.usersReady);
				expect(failed.body.failed).toContain("users");
				expect((await http(healthUrl(u1Host, "/live"))).status).toBe(200);
				expect((await http(healthUrl(gwHost, "/live"))).status).toBe(200);
				expect(nodes.every(n => n.process.exitCode === null)).toBe(true);

				const restoredAt = Date.now();
				setLink(redisHost, true);
				const up: Record<string, number> = {};
				await Promise.all(
					Object.entries(probes).map(async ([name, url]) => {
						await waitFor(async () => (await status(url)) === 200, {
							timeoutMs: 90_000,
							what: `${name} 200`
						});
						up[name] = Date.now() - restoredAt;
					})
				);
				await waitForHealthy(gatewayUrl, 2, 60_000);
				up.bothUsersNodes = Date.now() - restoredAt;
				report(`cross-host Redis host cut (${transporter} transporter)`, {
					unhealthyAfterMs: down,
					outageMs: restoredAt - cutAt,
					recoveredAfterMs: up
				});
				const read = await http(`${gatewayUrl}/users/${ids[0]}`, { headers });
				expect(read.status).toBe(200);
				expect(nodes.every(n => n.process.exitCode === null)).toBe(true);
			} finally {
				setLink(redisHost, true);
			}
		}, 200_000);
	});
});
