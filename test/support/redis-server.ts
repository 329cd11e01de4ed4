import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";

/** A free TCP port on loopback, as the OS hands it out. */
export function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.unref();
		server.on("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const address = server.address();
			const port = typeof address === "object" && address ? address.port : 0;
			server.close(() => resolve(port));
		});
	});
}

/** Polls `predicate` until it holds or `timeoutMs` passes. */
export async function waitFor<T>(
	predicate: () => Promise<T | undefined | false> | T | undefined | false,
	{ timeoutMs = 15_000, intervalMs = 100, what = "condition" } = {}
): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	let lastError: unknown;
	for (;;) {
		try {
			const value = await predicate();
			if (value) return value;
		} catch (err) {
			lastError = err;
		}
		if (Date.now() > deadline) {
			throw new Error(`Timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`);
		}
		await new Promise(r => setTimeout(r, intervalMs));
	}
}

export interface RedisServer {
	url: string;
	port: number;
	dir: string;
	process: ChildProcess;
	/** Stops the server (SIGTERM, so AOF is flushed) and waits for its exit. */
	stop(): Promise<void>;
	/** Starts it again on the same port and data folder. */
	restart(): Promise<void>;
	/** Stops it and deletes its data folder. */
	destroy(): Promise<void>;
}

export interface RedisServerOptions {
	port?: number;
	/** AOF persistence (appendfsync always), as in the compose file. */
	appendOnly?: boolean;
}

/** Starts a private `redis-server` on a free loopback port. */
export async function startRedisServer(opts: RedisServerOptions = {}): Promise<RedisServer> {
	const port = opts.port ?? (await freePort());
	const dir = mkdtempSync(path.join(tmpdir(), "rncp-redis-"));
	const args = [
		"--port",
		String(port),
		"--bind",
		"127.0.0.1",
		"--dir",
		dir,
		"--save",
		"",
		"--appendonly",
		opts.appendOnly ? "yes" : "no",
		"--appendfsync",
		"always",
		"--loglevel",
		"warning"
	];
	const server: RedisServer = {
		url: `redis://127.0.0.1:${port}`,
		port,
		dir,
		process: undefined as unknown as ChildProcess,
		async stop() {
			const child = server.process;
			if (child.exitCode !== null || child.signalCode !== null) return;
			await new Promise<void>(resolve => {
				child.once("exit", () => resolve());
				child.kill("SIGTERM");
			});
		},
		async restart() {
			await server.stop();
			await launch();
		},
		async destroy() {
			await server.stop();
			rmSync(dir, { recursive: true, force: true });
		}
	};
	async function launch() {
		server.process = spawn("redis-server", args, { stdio: "ignore" });
		const failed = new Promise<never>((_, reject) =>
			server.process.once("error", err => reject(new Error(`cannot start redis-server (${err.message})`)))
		);
		await Promise.race([failed, ready()]);
	}
	function ready() {
		return waitFor(
			async () => {
				const client = new Redis({
					port,
					lazyConnect: true,
					maxRetriesPerRequest: 0,
					retryStrategy: () => null
				});
				client.on("error", () => undefined); // refused until the server listens
				try {
					await client.connect();
					return (await client.ping()) === "PONG";
				} finally {
					client.disconnect();
				}
			},
			{ what: `redis-server on port ${port}` }
		);
	}
	await launch();
	return server;
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejection(
	promise: Promise<unknown>
): Promise<Error & { code?: number; type?: string; data?: unknown; name: string }> {
	try {
		await promise;
	} catch (err) {
		return err as Error & { code?: number; type?: string; data?: unknown };
	}
	throw new Error("Expected the promise to reject, but it resolved");
}

/** Deletes the keys under `prefix` — only a test's own (never FLUSHALL). */
export async function deleteKeys(url: string, prefix: string): Promise<void> {
	const admin = new Redis(url);
	try {
		const keys = await admin.keys(`${prefix}*`);
		if (keys.length) await admin.del(...keys);
	} finally {
		await admin.quit();
	}
}

/**
 * Every key matching `pattern` (KEYS syntax) that `keep` accepts, with its
 * value (hashes, sorted sets with scores, strings), as one comparable string:
 * taken before and after a request, it shows the request changed no data.
 */
export async function storedState(redis: Redis, pattern: string, keep: (key: string) => boolean): Promise<string> {
	const keys = (await redis.keys(pattern)).filter(keep).sort();
	const values = await Promise.all(
		keys.map(async k => {
			const type = await redis.type(k);
			if (type === "hash") return [k, await redis.hgetall(k)];
			if (type === "zset") return [k, await redis.zrange(k, 0, -1, "WITHSCORES")];
			return [k, await redis.get(k)];
		})
	);
	return JSON.stringify(values);
}
