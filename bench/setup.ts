import { randomBytes } from "node:crypto";
import type { Logger } from "moleculer";
import { hashPassword } from "../services/users/password";
import { RedisUserStore } from "../services/users/store";
import type { PublicUser } from "../services/users/types";
import { http, waitForHealthy } from "../test/support/node-process";
import { freePort, waitFor } from "../test/support/redis-server";
import { startNode, type Proc } from "./nodes";

/** A secret strong enough for production mode; new every run. */
export const JWT_SECRET = randomBytes(48).toString("base64url");
export const ADMIN = { email: "bench-admin@example.test", password: "bench-admin-password-1" };
export const PASSWORD = "bench-password-1";

/**
 * Environment of every product node in the bench: production mode with every
 * security feature the code base has (JWT, Redis-shared rate limit set high
 * enough never to trigger, access log, metrics). Variables a version of the
 * code does not know are ignored by it.
 */
export function productEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
	return {
		NODE_ENV: "production",
		LOG_FORMAT: "json",
		LOGLEVEL: "info",
		JWT_SECRET,
		JWT_EXPIRES_IN: "1h",
		ADMIN_EMAIL: ADMIN.email,
		ADMIN_PASSWORD: ADMIN.password,
		RATE_LIMIT_MAX: "1000000000",
		RATE_LIMIT_WINDOW_MS: "60000",
		LOGIN_RATE_LIMIT_MAX: "1000000000",
		...extra
	};
}

export interface Deployment {
	name: string;
	base: string;
	namespace: string;
	/** Nodes over a transporter (the private Redis), not the embedded single process. */
	clustered: boolean;
	/** Processes whose CPU and memory count, gateway first. */
	procs: Proc[];
	metricsPorts: number[];
	stop(): Promise<void>;
}

function deployment(
	name: string,
	base: string,
	namespace: string,
	procs: Proc[],
	metricsPorts: number[],
	clustered: boolean
): Deployment {
	return {
		name,
		base,
		namespace,
		clustered,
		procs,
		metricsPorts,
		async stop() {
			await Promise.all(procs.map(p => p.stop()));
		}
	};
}

export function uniqueName(label: string): string {
	return `bench-${label}-${randomBytes(3).toString("hex")}`;
}

/** The embedded default: every service in one process, memory store. */
export async function startEmbedded(name: string, extra: Record<string, string | undefined> = {}): Promise<Deployment> {
	const [port, wwwPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
	const namespace = uniqueName(name);
	const node = startNode(`${name}-node`, {
		...productEnv(extra),
		NAMESPACE: namespace,
		NODEID: `${name}-node`,
		PORT: String(port),
		WWW_PORT: String(wwwPort),
		METRICS_PORT: String(metricsPort),
		...extra
	});
	const base = `http://127.0.0.1:${port}`;
	await waitForHealthy(base, 1, 30_000);
	return deployment(name, base, namespace, [node], [metricsPort], false);
}

/** A gateway node and `usersNodes` users nodes over the Redis transporter. */
export async function startCluster(
	name: string,
	redisUrl: string,
	extra: Record<string, string | undefined> = {},
	{ usersNodes = 1, namespace = uniqueName(name) } = {}
): Promise<Deployment> {
	const env = { ...productEnv(extra), NAMESPACE: namespace, REDIS_URL: redisUrl };
	const procs: Proc[] = [];
	const metricsPorts: number[] = [];
	const port = await freePort();
	const gwMetrics = await freePort();
	procs.push(
		startNode(`${name}-gateway`, {
			...env,
			SERVICES: "api",
			NODEID: `${name}-gateway`,
			PORT: String(port),
			METRICS_PORT: String(gwMetrics),
			...extra
		})
	);
	metricsPorts.push(gwMetrics);
	for (let i = 1; i <= usersNodes; i++) {
		const metrics = await freePort();
		procs.push(
			startNode(`${name}-users${usersNodes > 1 ? i : ""}`, {
				...env,
				SERVICES: "users",
				NODEID: `${name}-users-${i}`,
				METRICS_PORT: String(metrics),
				...extra
			})
		);
		metricsPorts.push(metrics);
	}
	const base = `http://127.0.0.1:${port}`;
	await waitForHealthy(base, usersNodes, 30_000);
	return deployment(name, base, namespace, procs, metricsPorts, true);
}

export interface Client {
	user: PublicUser;
	/** Authorization header when the gateway has `/auth/login`, else empty. */
	headers: Record<string, string>;
	token?: string;
}

/**
 * Signs a fresh user up and logs it in when the gateway has `POST /auth/login`
 * (older code bases have no auth: then requests go without a token).
 */
export async function signUpAndLogin(base: string, label: string): Promise<Client> {
	const email = `${uniqueName(label)}@example.test`;
	const reg = await http<PublicUser>(`${base}/users`, {
		method: "POST",
		json: { email, name: `Bench ${label}`, password: PASSWORD }
	});
	if (reg.status !== 201) throw new Error(`sign-up failed: ${reg.status} ${reg.text}`);
	const login = await http<{ token?: string }>(`${base}/auth/login`, {
		method: "POST",
		json: { email, password: PASSWORD }
	});
	if (login.status === 404) return { user: reg.body, headers: {} };
	if (login.status !== 200 || !login.body.token) throw new Error(`login failed: ${login.status} ${login.text}`);
	return { user: reg.body, headers: { authorization: `Bearer ${login.body.token}` }, token: login.body.token };
}

/** The exact body the product answers, to serve it from the bare server. */
export async function fetchBody(url: string, headers: Record<string, string>): Promise<string> {
	const res = await http(url, { headers });
	if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}: ${res.text}`);
	return res.text;
}

const quietLogger = {
	fatal: (...args: unknown[]) => process.stderr.write(`${args.join(" ")}\n`),
	error: (...args: unknown[]) => process.stderr.write(`${args.join(" ")}\n`),
	warn: () => undefined,
	info: () => undefined,
	debug: () => undefined,
	trace: () => undefined
} as unknown as Logger;

/**
 * Stores `count` users straight through the product's own Redis store (its Lua
 * script, its key layout), many writes in flight at once; one password hash
 * is computed and shared, since scrypt would otherwise dominate. Resolves the
 * time it took in ms.
 */
export async function seedUsers(redisUrl: string, namespace: string, count: number): Promise<number> {
	const start = performance.now();
	const store = new RedisUserStore(redisUrl, `${namespace}:`, quietLogger);
	const passwordHash = await hashPassword(PASSWORD);
	const createdAt = new Date().toISOString();
	const batch = 2000;
	try {
		for (let from = 0; from < count; from += batch) {
			const writes: Promise<unknown>[] = [];
			for (let i = from; i < Math.min(from + batch, count); i++) {
				writes.push(
					store.create({
						id: crypto.randomUUID(),
						email: `seed-${i}@example.test`,
						name: `Seed User ${i}`,
						role: "user",
						passwordHash,
						createdAt
					})
				);
			}
			await Promise.all(writes);
		}
	} finally {
		await store.close();
	}
	return performance.now() - start;
}

/** Polls `url` until it answers `accept(status, body)`; resolves the elapsed ms since `since`. */
export async function waitUntil(
	url: string,
	accept: (status: number, body: unknown) => boolean,
	since: number,
	timeoutMs = 30_000
): Promise<number> {
	await waitFor(
		async () => {
			const res = await http(url, { signal: AbortSignal.timeout(2000) });
			return accept(res.status, res.body);
		},
		{ timeoutMs, intervalMs: 20, what: url }
	);
	return performance.now() - since;
}
