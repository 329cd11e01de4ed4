import { randomBytes, randomUUID } from "node:crypto";
import { startBalancer, type Balancer } from "../../scripts/balancer";
import { http, startNode, waitForHealthy, type NodeProcess } from "./node-process";
import { freePort, waitFor } from "./redis-server";

/**
 * Helpers of the cluster tests (test/cluster/*): node topologies started the
 * way compose and `npm run cluster` start them, bounded load loops, and
 * latency figures.
 */

export const ADMIN_EMAIL = "admin@cluster.test";
export const ADMIN_PASSWORD = "cluster-admin-password";

/** The environment compose gives every node, plus limits high enough for load tests. */
export function clusterEnv(redisUrl: string, namespace: string): Record<string, string> {
	return {
		REDIS_URL: redisUrl,
		NAMESPACE: namespace,
		NODE_ENV: "production",
		LOGLEVEL: "info",
		JWT_SECRET: randomBytes(32).toString("base64url"),
		ADMIN_EMAIL,
		ADMIN_PASSWORD,
		RATE_LIMIT_MAX: "1000000",
		LOGIN_RATE_LIMIT_MAX: "1000000"
	};
}

export interface Cluster {
	env: Record<string, string>;
	users: NodeProcess[];
	gateways: Gateway[];
	startUsers(nodeID: string): NodeProcess;
	startGateway(nodeID: string, port?: number): Promise<Gateway>;
	/** Every process still running gets SIGTERM (then SIGKILL after 15 s). */
	stop(): Promise<void>;
}

export interface Gateway {
	node: NodeProcess;
	port: number;
	url: string;
}

export function createCluster(redisUrl: string, namespace: string, extraEnv: Record<string, string> = {}): Cluster {
	// One JWT secret for the whole cluster, as compose gives one to every node.
	const env = { ...clusterEnv(redisUrl, namespace), ...extraEnv };
	const all: NodeProcess[] = [];
	const cluster: Cluster = {
		env,
		users: [],
		gateways: [],
		startUsers(nodeID) {
			const node = startNode({ services: "users", nodeID, env });
			all.push(node);
			cluster.users.push(node);
			return node;
		},
		async startGateway(nodeID, port) {
			const gatewayPort = port ?? (await freePort());
			const node = startNode({ services: "api", nodeID, env: { ...env, PORT: String(gatewayPort) } });
			all.push(node);
			const gateway = { node, port: gatewayPort, url: `http://127.0.0.1:${gatewayPort}` };
			cluster.gateways.push(gateway);
			return gateway;
		},
		async stop() {
			await Promise.all(
				all.map(async node => {
					const kill = setTimeout(() => node.process.kill("SIGKILL"), 15_000);
					await node.stop("SIGTERM");
					clearTimeout(kill);
				})
			);
		}
	};
	return cluster;
}

/** A balancer in front of `gateways` probing their `/health`, as `npm run cluster` runs it. */
export function balance(gateways: Gateway[]): Promise<Balancer> {
	return startBalancer({
		port: 0,
		backends: gateways.map(g => ({ host: "127.0.0.1", port: g.port })),
		health: { path: "/health", intervalMs: 250 }
	});
}

/**
 * `Authorization` headers for the user routes: a token of the admin that the
 * users nodes create from ADMIN_EMAIL / ADMIN_PASSWORD, or none while the
 * gateway has no `/auth/login` route (public user routes).
 */
export async function authHeaders(baseUrl: string): Promise<Record<string, string>> {
	const res = await waitFor(
		async () => {
			const r = await http<{ token?: string }>(`${baseUrl}/auth/login`, {
				method: "POST",
				json: { email: ADMIN_EMAIL, password: ADMIN_PASSWORD }
			});
			return r.status === 200 || r.status === 404 ? r : false;
		},
		{ timeoutMs: 15_000, what: "an admin token from POST /auth/login" }
	);
	return res.status === 200 && res.body.token ? { authorization: `Bearer ${res.body.token}` } : {};
}

/** Waits until the node has exited; resolves its exit code. */
export function exitCode(node: NodeProcess, timeoutMs = 20_000): Promise<number | null> {
	return Promise.race([
		node.exited,
		new Promise<never>((_, reject) =>
			setTimeout(() => reject(new Error(`${node.nodeID} did not exit within ${timeoutMs} ms`)), timeoutMs).unref()
		)
	]);
}

export { waitForHealthy };

export interface Sample {
	/** Start time, ms since the load began. */
	at: number;
	ms: number;
	method: string;
	status: number;
	ok: boolean;
	servedBy?: string;
	error?: string;
}

export interface RequestResult {
	method: string;
	status: number;
	ok: boolean;
	servedBy?: string;
}

export interface LoadOptions {
	workers: number;
	/** Hard bounds: the loop stops at whichever comes first. */
	maxRequests: number;
	maxMs: number;
	/** Pause of each worker between two requests, so 2 cores stay usable. */
	pauseMs: number;
	request(i: number): Promise<RequestResult>;
}

export interface Load {
	samples: Sample[];
	/** Ends the loop after the requests in flight; resolves every sample. */
	stop(): Promise<Sample[]>;
	done: Promise<Sample[]>;
}

/** A bounded closed-loop load: `workers` concurrent clients, each one request at a time. */
export function startLoad(opts: LoadOptions): Load {
	const samples: Sample[] = [];
	const started = Date.now();
	let issued = 0;
	let stopped = false;
	const worker = async () => {
		while (!stopped && issued < opts.maxRequests && Date.now() - started < opts.maxMs) {
			const i = issued++;
			const t0 = performance.now();
			const at = Date.now() - started;
			try {
				const r = await opts.request(i);
				samples.push({ at, ms: performance.now() - t0, ...r });
			} catch (err) {
				const cause = (err as Error).cause;
				const error = `${String(err)}${cause ? ` (${String((cause as Error).message ?? cause)})` : ""}`;
				samples.push({ at, ms: performance.now() - t0, method: "?", status: 0, ok: false, error });
			}
			await new Promise(r => setTimeout(r, opts.pauseMs));
		}
	};
	const done = Promise.all(Array.from({ length: opts.workers }, worker)).then(() => samples);
	return {
		samples,
		done,
		stop() {
			stopped = true;
			return done;
		}
	};
}

export interface LatencySummary {
	count: number;
	failures: number;
	p50: number;
	p95: number;
	p99: number;
	max: number;
}

function percentile(sorted: number[], p: number): number {
	if (sorted.length === 0) return 0;
	return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export function summarize(samples: Sample[]): LatencySummary {
	const ms = samples.map(s => s.ms).sort((a, b) => a - b);
	const round = (n: number) => Math.round(n * 10) / 10;
	return {
		count: samples.length,
		failures: samples.filter(s => !s.ok).length,
		p50: round(percentile(ms, 50)),
		p95: round(percentile(ms, 95)),
		p99: round(percentile(ms, 99)),
		max: round(ms[ms.length - 1] ?? 0)
	};
}

/** Prints a figure line the docs quote (`[figures] …`). */
export function report(label: string, data: Record<string, unknown>): void {
	console.log(`[figures] ${label} ${JSON.stringify(data)}`);
}

/** One request of a load loop, as a `RequestResult`. */
export async function request(
	url: string,
	init: RequestInit & { json?: unknown },
	okStatuses: number[]
): Promise<RequestResult & { body: unknown; headers: Headers }> {
	const res = await http(url, init);
	return {
		method: (init.method ?? "GET").toUpperCase(),
		status: res.status,
		ok: okStatuses.includes(res.status),
		servedBy: res.headers.get("x-served-by") ?? undefined,
		body: res.body,
		headers: res.headers
	};
}

/** What a client saw of one sign-up: every attempt's status (0: network error), the ids it got. */
export interface SignUpAttempts {
	statuses: number[];
	ids: string[];
}

/**
 * Sign-ups as a careful client sends them: one Idempotency-Key per sign-up,
 * retried up to `attempts` times on a 5xx or a network error. `writes` holds
 * every sign-up's attempts by key, to check later that none was lost or stored twice.
 */
export function carefulSignUps(opts: {
	url: string;
	headers: Record<string, string>;
	attempts: number;
	timeoutMs: number;
	body: (i: number) => object;
}): { writes: Map<string, SignUpAttempts>; signUp(i: number): Promise<RequestResult> } {
	const writes = new Map<string, SignUpAttempts>();
	const signUp = async (i: number): Promise<RequestResult> => {
		const key = randomUUID();
		const entry: SignUpAttempts = { statuses: [], ids: [] };
		writes.set(key, entry);
		const json = opts.body(i);
		let last: RequestResult = { method: "POST", status: 0, ok: false };
		for (let attempt = 0; attempt < opts.attempts; attempt++) {
			try {
				const r = await request(
					opts.url,
					{
						method: "POST",
						headers: { ...opts.headers, "idempotency-key": key },
						json,
						signal: AbortSignal.timeout(opts.timeoutMs)
					},
					[201]
				);
				entry.statuses.push(r.status);
				if (r.status === 201) entry.ids.push((r.body as { id: string }).id);
				last = r;
				if (r.status < 500) break;
			} catch {
				entry.statuses.push(0);
			}
		}
		return last;
	};
	return { writes, signUp };
}

/** Creates `n` users through `baseUrl`; resolves their ids. */
export async function seedUsers(
	baseUrl: string,
	headers: Record<string, string>,
	n: number,
	tag: string
): Promise<string[]> {
	const ids: string[] = [];
	for (let i = 0; i < n; i++) {
		const res = await http<{ id: string }>(`${baseUrl}/users`, {
			method: "POST",
			headers,
			json: { email: `seed-${tag}-${i}@cluster.test`, name: `Seed ${i}`, password: "password-123" }
		});
		if (res.status !== 201) throw new Error(`seeding failed: ${res.status} ${res.text}`);
		ids.push(res.body.id);
	}
	return ids;
}
