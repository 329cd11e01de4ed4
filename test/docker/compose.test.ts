import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { startLoad, summarize, type Sample } from "../support/cluster";
import { http, type HttpResult } from "../support/node-process";
import { freePort, waitFor } from "../support/redis-server";
import { baseImageOrigins, ComposeProject, ensureEngine, missingTools, ROOT, sh, type Engine } from "./engine";

/**
 * docker-compose.yml run for real in a Docker engine, as a new user would:
 * build, `up -d`, the API through nginx and the PWA, `--scale`, scale-down and
 * a gateway stop under load, a Redis restart, the REPL in a container, the
 * forged X-Forwarded-For check, JSON logs, `down -v`. Its own project name, so
 * nothing else in the engine is touched.
 */

const PROJECT = "rncp-compose-test";
const BASE_IMAGES = ["node:24-alpine", "redis:7-alpine", "nginx:1.28-alpine"];
const USERS = "rncp-user-service";
const GATEWAY = "rncp-api-gateway";
/** Bound of the issue: a gateway stop is invisible to clients. */
const GATEWAY_STOP_MAX_MS = 500;
const HIGH_LIMITS = { RATE_LIMIT_MAX: "1000000", LOGIN_RATE_LIMIT_MAX: "1000000" };

const missing = missingTools();
// CI installs every tool (.ci/run): there the test never skips.
if (missing && process.env.CI) throw new Error(`compose test cannot run in CI: ${missing}`);
const maybe = missing ? describe.skip : describe;
if (missing) console.warn(`[docker] compose test skipped: ${missing}`);

const timings: Record<string, number> = {};
const figures: Record<string, unknown> = {};
function record(step: string, data: Record<string, unknown>): void {
	figures[step] = data;
	console.log(`[figures] compose ${step} ${JSON.stringify(data)}`);
}
async function timed<T>(step: string, fn: () => Promise<T>): Promise<T> {
	const started = Date.now();
	try {
		return await fn();
	} finally {
		timings[step] = Math.round((Date.now() - started) / 100) / 10;
	}
}

async function portIsFree(port: number): Promise<boolean> {
	const { createServer } = await import("node:net");
	return new Promise(resolve => {
		const server = createServer();
		server.once("error", () => resolve(false));
		server.listen(port, "0.0.0.0", () => server.close(() => resolve(true)));
	});
}

const failuresOf = (samples: Sample[]) => samples.filter(s => !s.ok);

/** One response of a rate-limited route: its status and the X-Rate-Limit-* headers. */
interface Counted {
	status: number;
	/** X-Rate-Limit-Reset: the end of the counting window (ms since the epoch). */
	reset: string | null;
	remaining: number;
}

/**
 * Sends `send(i)` one after another until a 429, at most `2 × limit + 2` times:
 * enough to exhaust the budget even if a window edge falls inside the run
 * (the whole run takes seconds, a window one minute).
 */
async function untilLimited(send: (i: number) => Promise<HttpResult>, limit: number): Promise<Counted[]> {
	const seen: Counted[] = [];
	for (let i = 0; i < 2 * limit + 2 && seen.at(-1)?.status !== 429; i++) {
		const res = await send(i);
		seen.push({
			status: res.status,
			reset: res.headers.get("x-rate-limit-reset"),
			remaining: Number(res.headers.get("x-rate-limit-remaining"))
		});
	}
	return seen;
}

/**
 * Every request of the 429's window counted against one budget, whatever the
 * client's headers said: `status` until the budget (at most `limit`) is spent,
 * X-Rate-Limit-Remaining falling at each, then 429.
 */
function expectOneClient(seen: Counted[], status: number, limit: number): void {
	const last = seen.at(-1);
	expect(last?.status).toBe(429);
	expect(last?.remaining).toBe(0);
	const window = seen.filter(r => r.reset === last?.reset).slice(0, -1);
	expect(window.length).toBeLessThanOrEqual(limit);
	expect(window.map(r => r.status)).toEqual(window.map(() => status));
	const remaining = window.map(r => r.remaining);
	expect(remaining).toEqual([...remaining].sort((a, b) => b - a));
	expect(new Set(remaining).size).toBe(remaining.length);
}

maybe("docker-compose.yml in a Docker engine", () => {
	let engine: Engine | undefined;
	let project: ComposeProject;
	let api: string;
	let pwa: string;
	/** The environment of the scaled steps: the README's, with limits a load test does not hit. */
	let loadEnv: NodeJS.ProcessEnv;
	let token: string;
	let userId: string;
	const auth = () => ({ authorization: `Bearer ${token}` });
	const scaled = (users: number, gateways: number) => [
		"up",
		"-d",
		"--scale",
		`${USERS}=${users}`,
		"--scale",
		`${GATEWAY}=${gateways}`
	];

	beforeAll(async () => {
		engine = await timed("engine", ensureEngine);
		await timed("stand-in images", () =>
			sh("bash", ["scripts/docker/stand-in-images.sh"], { timeoutMs: 20 * 60_000 })
		);
		const origins = await baseImageOrigins(BASE_IMAGES);
		const standIns = Object.values(origins).some(o => o.startsWith("stand-in"));
		console.log(
			`[docker] engine ${engine.startedHere ? "started by this test (dockerd --storage-driver=vfs)" : "already running"}; ` +
				`base images: ${JSON.stringify(origins)}` +
				(standIns
					? "\n[docker] The base images are Debian bookworm stand-ins built from a Debian rootfs " +
						"(scripts/docker/stand-in-images.sh), not the upstream Alpine images: this run cannot tell " +
						"musl vs glibc differences, nor anything specific to the upstream versions (node:24-alpine's " +
						"exact Node build, Redis 7.x of redis:7-alpine vs Debian's 7.0, nginx 1.28 vs Debian's 1.22)."
					: "")
		);

		// 3001 / 3000 as the README says, unless something on this machine holds them.
		const apiPort = (await portIsFree(3001)) ? 3001 : await freePort();
		const pwaPort = (await portIsFree(3000)) ? 3000 : await freePort();
		api = `http://127.0.0.1:${apiPort}`;
		pwa = `http://127.0.0.1:${pwaPort}`;
		const ports =
			apiPort === 3001 && pwaPort === 3000
				? {}
				: {
						API_HOST_PORT: String(apiPort),
						PWA_HOST_PORT: String(pwaPort),
						API_URL: `http://localhost:${apiPort}`,
						CORS_ORIGINS: `http://localhost:${pwaPort}`
					};
		if (Object.keys(ports).length)
			console.log(`[docker] host ports 3001/3000 are taken: using ${apiPort}/${pwaPort}`);
		// No variable of this process reaches compose: only what a shell user has.
		project = new ComposeProject(PROJECT, {
			PATH: process.env.PATH,
			HOME: process.env.HOME,
			// Removing containers on the vfs driver of a busy host outlasts compose's 60 s default.
			COMPOSE_HTTP_TIMEOUT: "600",
			...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
			...ports
		});
		loadEnv = HIGH_LIMITS;
		// What an earlier, interrupted run may have left.
		await project.compose(["down", "-v", "--remove-orphans"]);
		// An image of an earlier run must not stand in for this tree's: if the
		// build below fails, so does every step after it.
		await sh("docker", ["image", "rm", "--force", "rncp-api:local"]).catch(() => undefined);
	}, 30 * 60_000);

	afterAll(async () => {
		try {
			if (project && (await project.leftovers()).length)
				await project.compose(["down", "-v", "--remove-orphans"]);
		} finally {
			console.log(`[figures] compose timings (s) ${JSON.stringify(timings)}`);
			await engine?.stop();
		}
	}, 5 * 60_000);

	it("builds the image (docker-compose build)", async () => {
		await timed("build", () => project.compose(["build"], { timeoutMs: 20 * 60_000 }));
		const size = await sh("docker", ["image", "inspect", "--format", "{{.Size}}", "rncp-api:local"]);
		record("build", { seconds: timings.build, imageMB: Math.round(Number(size) / 1e6) });
	});

	it("starts every service healthy with `up -d` and no environment", async () => {
		await timed("up", async () => {
			await project.compose(["up", "-d"], { timeoutMs: 10 * 60_000 });
			await project.waitHealthy({ redis: 1, [USERS]: 1, [GATEWAY]: 1, "rncp-api-lb": 1, "rncp-pwa-front": 1 });
		});
		record("up", { secondsToAllHealthy: timings.up });
	});

	it("serves the API through the balancer and the PWA", async () => {
		const hello = await http<{ message: string }>(`${api}/`);
		expect(hello.status).toBe(200);
		expect(hello.body.message).toBe("Hello world");
		const health = await http<{ status: string; checks: { users: { instances: number } } }>(`${api}/health`);
		expect(health.status).toBe(200);
		expect(health.body.checks.users.instances).toBe(1);

		const email = `compose-${randomBytes(4).toString("hex")}@compose.test`;
		const created = await http<{ id: string; email: string }>(`${api}/users`, {
			method: "POST",
			json: { email, name: "Compose", password: "password-123" }
		});
		expect(created.status).toBe(201);
		expect(created.headers.get("location")).toBe(`/users/${created.body.id}`);
		userId = created.body.id;
		const login = await http<{ token: string }>(`${api}/auth/login`, {
			method: "POST",
			json: { email, password: "password-123" }
		});
		expect(login.status).toBe(200);
		token = login.body.token;
		const me = await http<{ id: string; email: string }>(`${api}/auth/me`, {
			headers: { ...auth(), "x-request-id": "compose-me-1" }
		});
		expect(me.status).toBe(200);
		expect(me.body).toMatchObject({ id: userId, email });

		const page = await http(`${pwa}/`);
		expect(page.status).toBe(200);
		expect(page.headers.get("content-type")).toMatch(/text\/html/);
		expect(page.text).toMatch(/<html/i);
		const config = await http<{ apiUrl: string }>(`${pwa}/config.json`);
		expect(config.status).toBe(200);
		expect(config.body.apiUrl).toBe(project.env.API_URL ?? "http://localhost:3001");
	});

	it("counts clients as nginx sees them: forged X-Forwarded-For headers do not bypass the rate limits", async () => {
		// Default limits (no environment): 10 logins and 300 requests per client and
		// minute, in windows aligned on the clock. A run may cross a window edge, so
		// the counts are read per window, from the X-Rate-Limit-Reset header.
		const logins = await untilLimited(
			i =>
				http(`${api}/auth/login`, {
					method: "POST",
					headers: { "x-forwarded-for": `198.51.100.${i + 1}`, "x-real-ip": `198.51.100.${i + 1}` },
					json: { email: "nobody@compose.test", password: "wrong-password" }
				}),
			10
		);
		expectOneClient(logins, 401, 10);

		// `/` and `/health*` are not limited; `/auth/me` is.
		const reads = await untilLimited(
			i => http(`${api}/auth/me`, { headers: { ...auth(), "x-forwarded-for": `203.0.113.${(i % 250) + 1}` } }),
			300
		);
		expectOneClient(reads, 200, 300);
		record("forged-x-forwarded-for", {
			logins: `${logins.length - 1} × 401 then 429`,
			requestsBefore429: reads.length - 1,
			windowEdgesCrossed: new Set(reads.map(r => r.reset)).size - 1
		});
	});

	it("writes JSON log lines with nodeID and the request ID on every node", async () => {
		const out = await project.compose(["logs", "--no-color", "--no-log-prefix", GATEWAY, USERS]);
		// docker-compose's own first line ("Attaching to …") aside, every line is the nodes'.
		const lines = out.split("\n").filter(l => l.trim() && !l.startsWith("Attaching to "));
		const parsed = lines.map(l => {
			try {
				return JSON.parse(l) as Record<string, unknown>;
			} catch {
				return undefined;
			}
		});
		expect(lines.filter((_, i) => !parsed[i])).toEqual([]);
		expect(parsed.every(p => typeof p?.nodeID === "string")).toBe(true);
		const services = new Set(parsed.map(p => p?.nodeID));
		expect(services.size).toBeGreaterThanOrEqual(2);
		// The gateway's access line carries the request ID and the client as nginx saw it.
		const access = parsed.filter(p => p?.event === "access");
		const me = access.filter(p => p?.requestID === "compose-me-1");
		expect(me).toHaveLength(1);
		expect(access.filter(p => /^(::ffff:)?(198\.51\.100|203\.0\.113)\./.test(String(p?.client)))).toEqual([]);
		expect(out).not.toContain("password-123");
		record("json-logs", {
			lines: lines.length,
			nodes: services.size,
			accessLines: access.length,
			client: me[0]?.client
		});
	});

	it("spreads requests over 3 users nodes and 2 gateways with --scale", async () => {
		await timed("scale-up", async () => {
			await project.compose(scaled(3, 2), { env: loadEnv, timeoutMs: 10 * 60_000 });
			await project.waitHealthy({ redis: 1, [USERS]: 3, [GATEWAY]: 2, "rncp-api-lb": 1, "rncp-pwa-front": 1 });
		});
		const served: Record<string, number> = {};
		const run = randomBytes(3).toString("hex");
		const n = 60;
		await waitFor(
			async () => {
				const res = await http(`${api}/health`);
				return (
					res.status === 200 &&
					(res.body as { checks: { users: { instances: number } } }).checks.users.instances === 3
				);
			},
			{ timeoutMs: 30_000, intervalMs: 250, what: "3 users instances seen through the balancer" }
		);
		for (let i = 0; i < n; i++) {
			const res = await http(`${api}/users/${userId}`, {
				headers: { ...auth(), "x-request-id": `spread-${run}-${i}` }
			});
			expect(res.status).toBe(200);
			const by = res.headers.get("x-served-by") ?? "none";
			served[by] = (served[by] ?? 0) + 1;
		}
		const gateways: Record<string, number> = {};
		for (const id of await project.running(GATEWAY)) {
			const logs = await sh("docker", ["logs", id]);
			gateways[id] = logs.split("\n").filter(l => l.includes(`spread-${run}-`) && l.includes('"access"')).length;
		}
		record("spread", { requests: n, usersNodes: served, gateways, secondsToScale: timings["scale-up"] });
		expect(Object.keys(served).filter(k => k !== "none")).toHaveLength(3);
		expect(Object.values(gateways)).toHaveLength(2);
		expect(Object.values(gateways).every(c => c > 0)).toBe(true);
		expect(Object.values(gateways).reduce((a, b) => a + b, 0)).toBe(n);
	});

	/** A bounded load through the balancer: reads, and one sign-up in ten. */
	function load(label: string, maxRequests: number, workers = 4) {
		return startLoad({
			workers,
			maxRequests,
			maxMs: 120_000,
			pauseMs: 10,
			async request(i) {
				if (i % 10 === 9) {
					const res = await http(`${api}/users`, {
						method: "POST",
						json: {
							email: `load-${label}-${i}-${randomBytes(3).toString("hex")}@compose.test`,
							name: "Load",
							password: "password-123"
						}
					});
					return { method: "POST", status: res.status, ok: res.status === 201 };
				}
				const res = await http(`${api}/users/${userId}`, { headers: auth() });
				return {
					method: "GET",
					status: res.status,
					ok: res.status === 200,
					servedBy: res.headers.get("x-served-by") ?? undefined
				};
			}
		});
	}

	it("loses no request while users scale 3 → 1 under load", async () => {
		const traffic = load("scaledown", 4000, 2);
		await waitFor(() => traffic.samples.length >= 50, { timeoutMs: 30_000, what: "load before the scale-down" });
		await timed("scale-down", async () => {
			await project.compose(scaled(1, 2), { env: loadEnv, timeoutMs: 5 * 60_000 });
			await project.waitHealthy({ redis: 1, [USERS]: 1, [GATEWAY]: 2, "rncp-api-lb": 1, "rncp-pwa-front": 1 });
		});
		const after = traffic.samples.length;
		await waitFor(() => traffic.samples.length >= after + 100, {
			timeoutMs: 60_000,
			what: "load after the scale-down"
		});
		const samples = await traffic.stop();
		const s = summarize(samples);
		record("scale-down-users", { ...s, seconds: timings["scale-down"], failed: failuresOf(samples).slice(0, 5) });
		expect(failuresOf(samples)).toEqual([]);
	});

	it("hides a gateway stop from clients: 0 failed, a gone gateway tried only within nginx's 1 s DNS validity", async () => {
		const [victim] = await project.running(GATEWAY);
		try {
			await gatewayStop(victim);
		} finally {
			// The next steps run with both gateways again.
			await project.compose(scaled(1, 2), { env: loadEnv, timeoutMs: 10 * 60_000 });
			await project.waitHealthy({ redis: 1, [USERS]: 1, [GATEWAY]: 2, "rncp-api-lb": 1, "rncp-pwa-front": 1 });
		}
	});

	async function gatewayStop(victim: string): Promise<void> {
		const traffic = load("gwstop", 4000, 2);
		const started = Date.now();
		await waitFor(() => traffic.samples.length >= 50, { timeoutMs: 30_000, what: "load before the gateway stop" });
		const stopAt = Date.now() - started;
		await timed("gateway-stop", () => sh("docker", ["stop", victim], { timeoutMs: 60_000 }));
		const stoppedAt = Date.now() - started;
		// Past nginx's DNS cache (valid=1s) and a margin: the window where a gone address could be picked.
		const n = traffic.samples.length;
		await waitFor(() => Date.now() - started > stoppedAt + 3000 && traffic.samples.length >= n + 100, {
			timeoutMs: 60_000,
			what: "load after the gateway stop"
		});
		const samples = await traffic.stop();
		const before = samples.filter(x => x.at < stopAt && x.method === "GET");
		const during = samples.filter(x => x.at >= stopAt - 100);
		// The bound is on reads: a sign-up's scrypt hash alone takes hundreds of
		// ms on a busy 2-core machine, stop or no stop. A stall behind a gone
		// gateway (a connect timeout, a stale address) would show on both.
		const reads = summarize(during.filter(x => x.method === "GET"));
		const writes = summarize(during.filter(x => x.method === "POST"));
		const exit = (await sh("docker", ["inspect", "--format", "{{.State.ExitCode}}", victim])).trim();
		// nginx's error lines from the stop on (its log starts "YYYY/MM/DD HH:MM:SS", UTC).
		const since = new Date(started + stopAt - 1000).toISOString().slice(0, 19).replace("T", " ").replace(/-/g, "/");
		const lbLog = (await project.compose(["logs", "--no-color", "--no-log-prefix", "rncp-api-lb"]))
			.split("\n")
			.filter(l => /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d/.test(l) && l.slice(0, 19) >= since)
			.join("\n");
		const timedOut = (lbLog.match(/upstream timed out/g) ?? []).length;
		record("gateway-stop", {
			requests: during.length,
			failures: failuresOf(samples).length,
			reads,
			writes,
			readMaxBeforeStopMs: summarize(before).max,
			stopSeconds: timings["gateway-stop"],
			gatewayExitCode: Number(exit),
			nginxConnectRefused: (lbLog.match(/connect\(\) failed \(111/g) ?? []).length,
			nginxUpstreamTimedOut: timedOut,
			nginxResetAfterSend: (lbLog.match(/Connection reset by peer\) while reading response header/g) ?? [])
				.length,
			slowest: [...during]
				.sort((a, b) => b.ms - a.ms)
				.slice(0, 3)
				.map(x => ({ at: x.at, ms: Math.round(x.ms), status: x.status }))
		});
		expect(failuresOf(samples)).toEqual([]);
		expect(Number(exit)).toBe(0);
		// A gone gateway's address is tried only while nginx's DNS answer may still
		// hold it (valid=1s) after the container exits; each try costs the 150 ms
		// connect timeout. (With valid=5s and a 2 s connect timeout, requests
		// stalled ~2 s for up to 5 s after the exit.) nginx logs whole seconds.
		const finished = new Date(
			(await sh("docker", ["inspect", "--format", "{{.State.FinishedAt}}", victim])).trim()
		);
		const limit = new Date(Math.floor(finished.getTime() / 1000) * 1000 + 2000)
			.toISOString()
			.slice(0, 19)
			.replace("T", " ")
			.replace(/-/g, "/");
		const late = lbLog.split("\n").filter(l => l.includes("upstream timed out") && l.slice(0, 19) > limit);
		expect(late).toEqual([]);
		// The 500 ms goal is a figure, not an assertion (timing goals live in
		// benchmarks): the engine's own work during a stop on the vfs driver,
		// and other jobs on a shared host, move it by hundreds of ms.
		console.log(
			`[docker] gateway stop: read max ${reads.max} ms (goal ≤ ${GATEWAY_STOP_MAX_MS} ms: ` +
				`${reads.max <= GATEWAY_STOP_MAX_MS ? "met" : "not met"}), read max before the stop ${summarize(before).max} ms`
		);
	}

	/** `/health` of one gateway container, asked from inside it. */
	async function gatewayHealth(id: string): Promise<{ status: number; instances?: number }> {
		const out = await sh("docker", [
			"exec",
			id,
			"node",
			"-e",
			"fetch('http://127.0.0.1:3001/health').then(async r => console.log(r.status, JSON.stringify((await r.json()).checks.users.instances)))"
		]);
		const [status, instances] = out.trim().split(" ");
		return { status: Number(status), instances: Number(instances) };
	}

	/**
	 * Polls a gateway's own /health from inside its container every 100 ms for
	 * `ms`: when it first answers 200, and every other answer after that.
	 */
	function monitorHealth(id: string, ms: number) {
		const script = `
			const t0 = Date.now(); let firstOkAt = null, checks = 0; const flaps = [];
			console.log("started");
			(async () => {
				while (Date.now() - t0 < ${ms}) {
					let status = 0, instances = null;
					try {
						const r = await fetch("http://127.0.0.1:3001/health", { signal: AbortSignal.timeout(3000) });
						status = r.status; instances = (await r.json()).checks.users.instances;
					} catch {}
					checks++;
					if (status === 200) firstOkAt ??= Date.now();
					else if (firstOkAt !== null) flaps.push({ at: Date.now(), status, instances });
					await new Promise(r => setTimeout(r, 100));
				}
				console.log(JSON.stringify({ firstOkAt, endAt: Date.now(), checks, flaps }));
			})();`;
		const child = spawn("docker", ["exec", id, "node", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
		let out = "";
		child.stdout.on("data", c => (out += c));
		child.stderr.on("data", c => (out += c));
		const exited = new Promise<void>(resolve => child.once("exit", () => resolve()));
		return {
			started: waitFor(() => out.includes("started"), { timeoutMs: 30_000, what: `the health monitor in ${id}` }),
			result: exited.then(() => {
				const line = out.trim().split("\n").at(-1) ?? "";
				try {
					return JSON.parse(line) as {
						firstOkAt: number | null;
						endAt: number;
						checks: number;
						flaps: unknown[];
					};
				} catch {
					throw new Error(`health monitor in ${id} failed: ${out}`);
				}
			})
		};
	}

	it("survives a Redis restart with its data, and every gateway's /health goes back to 200 and stays", async () => {
		const seeded: string[] = [];
		for (let i = 0; i < 10; i++) {
			const res = await http<{ id: string }>(`${api}/users`, {
				method: "POST",
				json: {
					email: `redis-${i}-${randomBytes(3).toString("hex")}@compose.test`,
					name: "Kept",
					password: "password-123"
				}
			});
			expect(res.status).toBe(201);
			seeded.push(res.body.id);
		}
		const gateways = await project.running(GATEWAY);
		await project.compose(["stop", "redis"]);
		const stoppedAt = Date.now();
		await waitFor(async () => (await gatewayHealth(gateways[0])).status === 503, {
			timeoutMs: 30_000,
			intervalMs: 250,
			what: "/health 503 while Redis is stopped"
		});
		// Longer than two heartbeat timeouts (2 × 6 s): every node drops the others, as in a real outage.
		await new Promise(r => setTimeout(r, Math.max(0, 14_000 - (Date.now() - stoppedAt))));
		// A monitor inside each gateway container polls its own /health every 100 ms.
		const monitors = gateways.map(id => monitorHealth(id, 60_000));
		await Promise.all(monitors.map(m => m.started));
		const startedAt = Date.now();
		await project.compose(["start", "redis"]);
		const startSeconds = (Date.now() - startedAt) / 1000;
		const seen = await Promise.all(monitors.map(m => m.result));
		const reads = await Promise.all(seeded.map(id => http(`${api}/users/${id}`, { headers: auth() })));
		const secs = (ms: number) => Math.round(ms / 100) / 10;
		record("redis-restart", {
			outageSeconds: secs(startedAt - stoppedAt),
			redisStartCommandSeconds: secs(startSeconds * 1000),
			// Container clocks are the host's: seconds from `docker-compose start redis` returning.
			secondsToHealthyPerGateway: seen.map(m =>
				m.firstOkAt === null ? null : secs(m.firstOkAt - startedAt - startSeconds * 1000)
			),
			secondsWatchedAfterHealthy: seen.map(m => (m.firstOkAt === null ? null : secs(m.endAt - m.firstOkAt))),
			checksPerGateway: seen.map(m => m.checks),
			flapsAfterFirst200: seen.map(m => m.flaps),
			kept: `${reads.filter(r => r.status === 200).length}/${seeded.length}`
		});
		expect(seen.every(m => m.firstOkAt !== null)).toBe(true);
		// Then it stays there, on every gateway, for at least 10 s of checks every 100 ms.
		expect(seen.every(m => m.endAt - (m.firstOkAt as number) >= 10_000)).toBe(true);
		expect(seen.flatMap(m => m.flaps)).toEqual([]);
		expect(reads.map(r => r.status)).toEqual(seeded.map(() => 200));
	});

	it("opens the REPL in a users container and answers `call users.count`", async () => {
		const total = await http<{ total: number }>(`${api}/users?pageSize=1`, { headers: auth() });
		expect(total.status).toBe(200);
		const child = spawn(
			"docker-compose",
			[
				"-p",
				PROJECT,
				"-f",
				"docker-compose.yml",
				"exec",
				"-T",
				USERS,
				"node",
				"dist/src/main.js",
				"--repl",
				"--no-services"
			],
			{ cwd: ROOT, env: project.env, stdio: ["pipe", "pipe", "pipe"] }
		);
		let out = "";
		child.stdout.on("data", c => (out += c));
		child.stderr.on("data", c => (out += c));
		const exited = new Promise<number | null>(resolve => child.once("exit", code => resolve(code)));
		// eslint-disable-next-line no-control-regex -- the REPL colours its output
		const plain = () => out.replace(/\x1b\[[0-9;]*m/g, "");
		try {
			await waitFor(() => plain().includes("mol $"), {
				timeoutMs: 60_000,
				intervalMs: 200,
				what: "the REPL prompt"
			});
			const answer = await waitFor(
				async () => {
					child.stdin.write("call users.count\n");
					await new Promise(r => setTimeout(r, 500));
					return />> Response:\s*(\d+)/.exec(plain()) ?? false;
				},
				{ timeoutMs: 30_000, intervalMs: 200, what: "an answer to `call users.count`" }
			);
			child.stdin.end();
			expect(await exited).toBe(0);
			expect(plain()).not.toMatch(/EADDRINUSE/);
			expect(Number(answer[1])).toBe(total.body.total);
			record("repl", { usersCount: Number(answer[1]) });
		} finally {
			if (child.exitCode === null) child.kill("SIGTERM");
		}
	});

	it("leaves no container, volume or network of the project after `down -v`", async () => {
		await timed("down", () => project.compose(["down", "-v"], { timeoutMs: 5 * 60_000 }));
		expect(await project.leftovers()).toEqual([]);
		record("down", { seconds: timings.down });
	});
});
