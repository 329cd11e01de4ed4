import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import path from "node:path";
import { hashPassword } from "../services/users/password";
import { http } from "../test/support/node-process";
import { freePort, startRedisServer, type RedisServer } from "../test/support/redis-server";
import {
	evaluateGoals,
	printGoals,
	printTable,
	type BenchReport,
	type ReadyResult,
	type ScenarioResult
} from "./report";
import { median, runInterleaved, type LoadOptions, type Target, type TargetResult, type Watched } from "./load";
import { BARE, resetLogs, RESULTS_DIR, spawnProc, startNode, stopAll, type Proc } from "./nodes";
import { startFastifyPeer, startNestPeer, type Peer } from "./peers";
import { rssBytes } from "./proc";
import { startTracingVariant } from "./tracing";
import {
	fetchBody,
	productEnv,
	seedUsers,
	signUpAndLogin,
	startCluster,
	startEmbedded,
	uniqueName,
	waitUntil,
	type Deployment
} from "./setup";

/*
 * `npm run bench [-- --quick] [-- --only cluster,list] [-- --variant NAME:KEY=VAL,KEY=VAL] [-- --tracing]`
 *
 * Starts a private Redis, the product's nodes and a bare node:http server, and
 * loads them in interleaved rounds (see load.ts). Every load is bounded in
 * time and count, loopback only. A variant starts one more deployment with
 * extra environment for the embedded and cluster scenarios, loaded in the
 * same rounds: that is how tuning options are compared on a noisy machine.
 */

const SCENARIOS = ["ready", "embedded", "cluster", "signup", "list"] as const;
type ScenarioName = (typeof SCENARIOS)[number];

interface Variant {
	name: string;
	env: Record<string, string>;
}

interface Settings {
	quick: boolean;
	/** Load the peers (NestJS beside the cluster, fastify beside the embedded node); BENCH_PEERS=0 skips them. */
	peers: boolean;
	only: Set<ScenarioName>;
	variants: Variant[];
	load: LoadOptions;
	signup: LoadOptions;
	bigUsers: number;
	smallUsers: number;
	probeRounds: number;
	probePages: number;
	readyRepeats: number;
}

function parseArgs(argv: string[]): Settings {
	const quick = argv.includes("--quick") || process.env.BENCH_QUICK === "1";
	const value = (flag: string): string[] =>
		argv.flatMap((a, i) =>
			a === flag && argv[i + 1] ? [argv[i + 1]] : a.startsWith(`${flag}=`) ? [a.slice(flag.length + 1)] : []
		);
	const only = value("--only").flatMap(v => v.split(","));
	for (const name of only) {
		if (!(SCENARIOS as readonly string[]).includes(name))
			throw new Error(`unknown scenario ${name}; known: ${SCENARIOS.join(", ")}`);
	}
	const variants = value("--variant").map(spec => {
		const [name, assignments = ""] = spec.split(":");
		const env = Object.fromEntries(
			assignments
				.split(",")
				.filter(Boolean)
				.map(kv => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)])
		);
		return { name, env };
	});
	const rounds = Number(process.env.BENCH_ROUNDS ?? (quick ? 1 : 5));
	const seconds = Number(process.env.BENCH_SECONDS ?? (quick ? 2 : 3));
	return {
		quick,
		peers: process.env.BENCH_PEERS !== "0" && !argv.includes("--no-peers"),
		only: new Set((only.length ? only : SCENARIOS) as ScenarioName[]),
		variants,
		load: {
			rounds,
			seconds,
			warmupSeconds: quick ? 1 : 2,
			connections: 50,
			maxRequests: 500_000,
			rate: process.env.BENCH_RATE ? Number(process.env.BENCH_RATE) : undefined
		},
		signup: {
			rounds: quick ? 1 : 3,
			seconds: quick ? 2 : 5,
			warmupSeconds: quick ? 0 : 1,
			connections: 16,
			maxRequests: 5_000
		},
		bigUsers: Number(process.env.BENCH_BIG_USERS ?? (quick ? 10_000 : 100_000)),
		smallUsers: 1_000,
		probeRounds: quick ? 1 : 3,
		probePages: quick ? 20 : 50,
		readyRepeats: quick ? 1 : 3
	};
}

/** Starts the bare server serving these bodies; resolves its target base URL and process. */
async function startBare(bodies: { get?: string; list?: string }): Promise<{ url: string; proc: Proc }> {
	const port = await freePort();
	const proc = spawnProc("bare", BARE, {
		BARE_PORT: String(port),
		BARE_GET: bodies.get,
		BARE_LIST: bodies.list,
		UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE
	});
	const url = `http://127.0.0.1:${port}`;
	await waitUntil(`${url}/users/x`, status => status === 200, performance.now(), 10_000);
	return { url, proc };
}

/** The private Redis, whose CPU counts for every cluster target. */
let redisWatch: Watched | undefined;
let redisWatchUrl: string | undefined;

function watch(d: Deployment, withRedis = d.clustered): Watched[] {
	const procs = d.procs.map(p => ({ label: p.label.replace(/^[^-]+-/, ""), pid: p.pid }));
	return withRedis && redisWatch ? [...procs, redisWatch] : procs;
}

function log(message: string): void {
	console.log(`[bench] ${message}`);
}

function onRound(round: number, name: string, r: { rps: number; p99: number; errors: number }): void {
	log(`  round ${round + 1} ${name}: ${Math.round(r.rps)} req/s, p99 ${r.p99.toFixed(1)} ms, ${r.errors} errors`);
}

/**
 * Each product target's req/s over the peer's in the same round (median, min,
 * max): both ran within one round, a few seconds apart, each beside a bare run.
 */
function againstPeer(results: TargetResult[], peerName: string, productNames: string[]): void {
	const peer = results.find(t => t.name === peerName);
	if (!peer) return;
	for (const t of results) {
		if (!productNames.includes(t.name)) continue;
		const ratios = t.rounds.map((r, i) => r.rps / peer.rounds[i].rps);
		t.peerRatio = { peer: peerName, median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) };
	}
}

/** `GET /users/:id` of a signed-in user, on the embedded node or on a cluster, against bare and a peer. */
async function getByIdScenario(
	name: "embedded" | "cluster",
	deployments: Deployment[],
	settings: Settings
): Promise<ScenarioResult> {
	const clients = await Promise.all(deployments.map(d => signUpAndLogin(d.base, d.name)));
	const body = await fetchBody(`${deployments[0].base}/users/${clients[0].user.id}`, clients[0].headers);
	const bare = await startBare({ get: body });
	let peer: Peer | undefined;
	try {
		if (settings.peers && clients[0].token) {
			peer =
				name === "embedded"
					? await startFastifyPeer(body, clients[0].token)
					: await startNestPeer(redisWatchUrl as string, body);
		}
		const targets: Target[] = [
			{
				name: "bare",
				url: bare.url,
				watch: [{ label: "bare", pid: bare.proc.pid }],
				request: { method: "GET", path: "/users/x" }
			},
			...deployments.map((d, i) => ({
				name: d.name,
				url: d.base,
				watch: watch(d),
				request: { method: "GET" as const, path: `/users/${clients[i].user.id}`, headers: clients[i].headers }
			})),
			...(peer
				? [
						{
							name: peer.name,
							url: peer.base,
							watch: [
								...peer.procs.map(p => ({ label: p.label, pid: p.pid })),
								...(name === "cluster" && redisWatch ? [redisWatch] : [])
							],
							request: {
								method: "GET" as const,
								path: `/users/${clients[0].user.id}`,
								headers: clients[0].headers
							}
						}
					]
				: [])
		];
		log(
			`${name}: ${settings.load.rounds} round(s) of ${settings.load.seconds} s, ${settings.load.connections} connections, body ${Buffer.byteLength(body)} bytes`
		);
		const results = await runInterleaved(targets, settings.load, onRound);
		if (peer)
			againstPeer(
				results,
				peer.name,
				deployments.map(d => d.name)
			);
		return {
			scenario: `${name}: GET /users/:id`,
			targets: results,
			notes: [
				`response body ${Buffer.byteLength(body)} bytes`,
				`auth: ${clients[0].token ? "Bearer JWT" : "none in this code base"}`,
				...(peer
					? [
							name === "embedded"
								? "peer fastify: one process, helmet, compress (1 kB), rate limit, @fastify/jwt HS256, token-version check, pino access line, X-Request-ID"
								: "peer nestjs: Express gateway with a Bearer HS256 guard → Nest microservice over Nest's Redis transport (same Redis)"
						]
					: [])
			]
		};
	} finally {
		await bare.proc.stop();
		await peer?.stop();
	}
}

/** Sign-up under load: bound by scrypt; the bare server runs the same KDF per request. */
async function signupScenario(cluster: Deployment, settings: Settings): Promise<ScenarioResult> {
	const probe = await signUpAndLogin(cluster.base, "signup-probe");
	const body = JSON.stringify(probe.user);
	const bare = await startBare({ get: body });
	const costs: number[] = [];
	for (let i = 0; i < 5; i++) {
		const t = performance.now();
		await hashPassword("bench-password-1");
		costs.push(performance.now() - t);
	}
	try {
		const request = {
			method: "POST" as const,
			path: "/users",
			body: JSON.stringify({ email: "signup-[<id>]@example.test", name: "Sign Up", password: "bench-password-1" })
		};
		const targets: Target[] = [
			{ name: "bare+scrypt", url: bare.url, watch: [{ label: "bare", pid: bare.proc.pid }], request },
			{ name: cluster.name, url: cluster.base, watch: watch(cluster), request }
		];
		log(
			`signup: ${settings.signup.rounds} round(s) of ${settings.signup.seconds} s, ${settings.signup.connections} connections`
		);
		const results = await runInterleaved(targets, settings.signup, onRound);
		return {
			scenario: "cluster: POST /users (sign-up)",
			targets: results,
			notes: [
				`one scrypt hash (N=16384, r=8, p=1) takes ${median(costs).toFixed(0)} ms here, on the libuv pool (${process.env.UV_THREADPOOL_SIZE ?? 4} threads) of a ${cpus().length}-core machine`
			],
			extra: { scryptMs: median(costs) }
		};
	} finally {
		await bare.proc.stop();
	}
}

/**
 * Pages of the list with 1 000 and with N users: load over random pages
 * (mostly served by the cache), and a probe of uncached page reads (cache
 * cleaned by a write before each probe round, each page read once), which is
 * what the "cost grows with the page, not with the number of users" goal is about.
 */
async function listScenario(redis: RedisServer, settings: Settings): Promise<ScenarioResult> {
	const sizes = [settings.smallUsers, settings.bigUsers];
	const deployments: Deployment[] = [];
	const seeded: number[] = [];
	for (const size of sizes) {
		const label = `list${size >= 1000 ? `${size / 1000}k` : size}`;
		const namespace = uniqueName(label);
		const ms = await seedUsers(redis.url, namespace, size);
		seeded.push(ms);
		log(`list: seeded ${size} users in ${(ms / 1000).toFixed(1)} s`);
		deployments.push(await startCluster(label, redis.url, {}, { namespace }));
	}
	const clients = await Promise.all(deployments.map(d => signUpAndLogin(d.base, d.name)));
	const pageSize = 20;
	const pages = sizes.map(size => Math.ceil((size + 1) / pageSize));
	const body = await fetchBody(`${deployments[0].base}/users?page=1&pageSize=${pageSize}`, clients[0].headers);
	const bare = await startBare({ list: body });

	// Uncached probe: the same number of distinct pages, spread over each list.
	const probe = sizes.map(() => [] as number[]);
	for (let round = 0; round < settings.probeRounds; round++) {
		for (let k = 0; k < deployments.length; k++) {
			const i = (k + round) % deployments.length;
			const d = deployments[i];
			const clean = await http(`${d.base}/users/${clients[i].user.id}`, {
				method: "PATCH",
				headers: clients[i].headers,
				json: { name: `Bench ${round}` }
			});
			if (clean.status !== 200) throw new Error(`PATCH answered ${clean.status}: ${clean.text}`);
			const step = Math.max(1, Math.floor(pages[i] / settings.probePages));
			for (let p = 0; p < settings.probePages && p * step < pages[i]; p++) {
				const page = 1 + p * step;
				const t = performance.now();
				const res = await http(`${d.base}/users?page=${page}&pageSize=${pageSize}`, {
					headers: clients[i].headers
				});
				probe[i].push(performance.now() - t);
				if (res.status !== 200) throw new Error(`list page ${page} answered ${res.status}`);
			}
		}
	}

	try {
		const targets: Target[] = [
			{
				name: "bare",
				url: bare.url,
				watch: [{ label: "bare", pid: bare.proc.pid }],
				request: { method: "GET", path: `/users?page=1&pageSize=${pageSize}` }
			},
			...deployments.map((d, i) => ({
				name: d.name,
				url: d.base,
				watch: watch(d),
				request: {
					method: "GET" as const,
					path: () => `/users?page=${1 + Math.floor(Math.random() * pages[i])}&pageSize=${pageSize}`,
					headers: clients[i].headers
				}
			}))
		];
		log(`list: ${settings.load.rounds} round(s) over random pages, ${settings.load.connections} connections`);
		const results = await runInterleaved(targets, settings.load, onRound);
		return {
			scenario: "cluster: GET /users?page=… (pageSize 20)",
			targets: results,
			notes: [
				`seeded ${sizes.join(" and ")} users through the Redis store in ${seeded.map(ms => `${(ms / 1000).toFixed(1)} s`).join(" and ")}`,
				`uncached page read, median of ${probe[0].length} and ${probe[1].length} sequential reads: ${sizes.map((s, i) => `${s} users ${median(probe[i]).toFixed(2)} ms`).join(", ")}`,
				"load rows: random pages, mostly answered from the read cache"
			],
			extra: {
				uncachedPageMs: sizes.map((users, i) => ({
					users,
					medianMs: median(probe[i]),
					samples: probe[i].length
				}))
			}
		};
	} finally {
		await bare.proc.stop();
		await Promise.all(deployments.map(d => d.stop()));
	}
}

/** Start to ready per node kind; idle RSS of each once ready. */
async function readyScenario(redis: RedisServer, settings: Settings): Promise<ReadyResult[]> {
	const results: ReadyResult[] = [];
	const record = (kind: string, ms: number) => {
		let r = results.find(x => x.kind === kind);
		if (!r) results.push((r = { kind, ms: [], idleRssBytes: [] }));
		r.ms.push(ms);
		return r;
	};
	const idle = async (r: ReadyResult, proc: Proc) => {
		await new Promise(resolve => setTimeout(resolve, 1000));
		r.idleRssBytes.push(rssBytes(proc.pid) ?? NaN);
	};

	for (let rep = 0; rep < settings.readyRepeats; rep++) {
		// Embedded: health 200.
		{
			const [port, wwwPort] = [await freePort(), await freePort()];
			const node = startNode("ready-embedded", {
				...productEnv(),
				NAMESPACE: uniqueName("ready"),
				PORT: String(port),
				WWW_PORT: String(wwwPort)
			});
			const ms = await waitUntil(`http://127.0.0.1:${port}/health`, s => s === 200, node.startedAt);
			await idle(record("embedded (api,users,www)", ms), node);
			await node.stop();
		}
		// Cluster kinds, each timed while the others run.
		const namespace = uniqueName("ready");
		const env = { ...productEnv(), NAMESPACE: namespace, REDIS_URL: redis.url };
		const port = await freePort();
		const users1 = startNode("ready-users", { ...env, SERVICES: "users", NODEID: `u1-${rep}` });
		const gateway = startNode("ready-gateway", {
			...env,
			SERVICES: "api",
			NODEID: `gw-${rep}`,
			PORT: String(port)
		});
		const base = `http://127.0.0.1:${port}`;
		const instances = (n: number) => (s: number, b: unknown) =>
			s === 200 && (b as { checks?: { users?: { instances?: number } } }).checks?.users?.instances === n;
		await waitUntil(`${base}/health`, instances(1), gateway.startedAt);
		// Gateway: a new one joins a cluster whose users node runs.
		const port2 = await freePort();
		const gateway2 = startNode("ready-gateway", {
			...env,
			SERVICES: "api",
			NODEID: `gw2-${rep}`,
			PORT: String(port2)
		});
		const gwMs = await waitUntil(`http://127.0.0.1:${port2}/health`, instances(1), gateway2.startedAt);
		await idle(record("gateway (api)", gwMs), gateway2);
		// Users: a second users node, ready when the gateway counts it.
		const users2 = startNode("ready-users", { ...env, SERVICES: "users", NODEID: `u2-${rep}` });
		const usersMs = await waitUntil(`${base}/health`, instances(2), users2.startedAt);
		await idle(record("users", usersMs), users2);
		// www: serves the PWA.
		const wwwPort = await freePort();
		const www = startNode("ready-www", {
			...env,
			SERVICES: "www",
			NODEID: `www-${rep}`,
			WWW_PORT: String(wwwPort)
		});
		const wwwMs = await waitUntil(`http://127.0.0.1:${wwwPort}/config.json`, s => s === 200, www.startedAt);
		await idle(record("www", wwwMs), www);
		await Promise.all([users1, gateway, gateway2, users2, www].map(p => p.stop()));
	}
	return results;
}

async function main(): Promise<void> {
	const settings = parseArgs(process.argv.slice(2));
	const tracing = await startTracingVariant(process.argv.slice(2));
	if (tracing) settings.variants.push(tracing.variant);
	const started = Date.now();
	const budgetMs = settings.quick ? 5 * 60_000 : 30 * 60_000;
	const watchdog = setTimeout(() => {
		console.error(`[bench] over its ${budgetMs / 60_000} min budget: stopping`);
		void stopAll().finally(() => process.exit(2));
	}, budgetMs);
	watchdog.unref();
	for (const signal of ["SIGINT", "SIGTERM"] as const) {
		process.once(signal, () => void stopAll().finally(() => process.exit(130)));
	}

	log(
		`${settings.quick ? "quick" : "full"} run; ${cpus().length} cores, load average ${loadavg()
			.map(l => l.toFixed(2))
			.join(" ")}`
	);
	resetLogs();
	const redis = await startRedisServer();
	redisWatch = { label: "redis", pid: redis.process.pid ?? -1 };
	redisWatchUrl = redis.url;
	log(`private redis-server on ${redis.url}`);
	const report: BenchReport = {
		startedAt: new Date(started).toISOString(),
		quick: settings.quick,
		machine: {
			cores: cpus().length,
			model: cpus()[0]?.model,
			loadAverageAtStart: loadavg(),
			node: process.version
		},
		settings: {
			load: settings.load,
			signup: settings.signup,
			bigUsers: settings.bigUsers,
			variants: settings.variants
		},
		scenarios: [],
		ready: [],
		goals: []
	};

	try {
		if (settings.only.has("ready")) {
			log("ready: start-to-ready per node kind");
			report.ready = await readyScenario(redis, settings);
		}
		if (settings.only.has("embedded")) {
			const deployments = [await startEmbedded("embedded")];
			for (const v of settings.variants) deployments.push(await startEmbedded(v.name, v.env));
			try {
				report.scenarios.push(await getByIdScenario("embedded", deployments, settings));
			} finally {
				await Promise.all(deployments.map(d => d.stop()));
			}
		}
		if (settings.only.has("cluster") || settings.only.has("signup")) {
			const deployments = [await startCluster("cluster", redis.url)];
			for (const v of settings.variants) deployments.push(await startCluster(v.name, redis.url, v.env));
			try {
				if (settings.only.has("cluster"))
					report.scenarios.push(await getByIdScenario("cluster", deployments, settings));
				if (settings.only.has("signup")) report.scenarios.push(await signupScenario(deployments[0], settings));
			} finally {
				await Promise.all(deployments.map(d => d.stop()));
			}
		}
		if (settings.only.has("list")) {
			report.scenarios.push(await listScenario(redis, settings));
		}
	} finally {
		await stopAll();
		await redis.destroy();
		if (tracing) log(`tracing sink got ${JSON.stringify(tracing.received())}`);
		await tracing?.close();
		clearTimeout(watchdog);
	}

	report.durationSeconds = (Date.now() - started) / 1000;
	report.loadAverageAtEnd = loadavg();
	report.goals = evaluateGoals(report, settings.bigUsers);
	console.log("");
	printTable(report);
	console.log("");
	printGoals(report.goals);
	mkdirSync(RESULTS_DIR, { recursive: true });
	const file = path.join(
		RESULTS_DIR,
		`bench-${report.startedAt.replace(/[:.]/g, "-")}${settings.quick ? "-quick" : ""}.json`
	);
	writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
	writeFileSync(path.join(RESULTS_DIR, "latest.json"), `${JSON.stringify(report, null, 2)}\n`);
	log(`results written to ${path.relative(process.cwd(), file)} (${report.durationSeconds.toFixed(0)} s)`);
}

main().catch(async err => {
	console.error("[bench] failed:", err);
	await stopAll();
	process.exit(1);
});
