import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "moleculer";

/**
 * Turns a `redis://` / `rediss://` URL into ioredis options, so the same
 * connection can be handed to Moleculer's transporter and cacher (whose
 * typings take option objects) and to our own clients.
 */
export function redisOptionsFromUrl(url: string): RedisOptions {
	const parsed = new URL(url);
	if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
		throw new Error(`Not a Redis URL: ${parsed.protocol}//…`);
	}
	const db = parsed.pathname.replace(/^\//, "");
	return {
		host: parsed.hostname.replace(/^\[(.*)\]$/, "$1") || "127.0.0.1",
		port: parsed.port ? Number(parsed.port) : 6379,
		username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
		password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
		db: db ? Number(db) : undefined,
		tls: parsed.protocol === "rediss:" ? {} : undefined
	};
}

export interface RedisClientOptions {
	url: string;
	/** Prepended by ioredis to every key (also the KEYS of scripts). */
	keyPrefix: string;
	/** Shown in `CLIENT LIST` and in log lines. */
	name: string;
	logger: Logger;
	/** Queue commands while disconnected (default) or fail them at once. */
	enableOfflineQueue?: boolean;
}

/**
 * A Redis client for our own data. Commands fail fast while Redis is away
 * (callers answer 503) and the client reconnects by itself in the background.
 */
export function createRedisClient(opts: RedisClientOptions): Redis {
	const client = new Redis({
		...redisOptionsFromUrl(opts.url),
		keyPrefix: opts.keyPrefix,
		connectionName: opts.name,
		maxRetriesPerRequest: 1,
		enableOfflineQueue: opts.enableOfflineQueue ?? true,
		connectTimeout: 2000,
		retryStrategy: attempt => Math.min(attempt * 100, 2000)
	});
	let down = false;
	client.on("error", (err: Error) => {
		if (!down) opts.logger.warn(`Redis (${opts.name}) unreachable: ${err.message}`);
		down = true;
	});
	client.on("ready", () => {
		if (down) opts.logger.info(`Redis (${opts.name}) reachable again`);
		down = false;
	});
	return client;
}
