import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type { Logger } from "moleculer";
import { createRedisClient } from "../../src/redis";
import { RedisScript } from "../../src/redis-script";

/** The first answer to a request made with an `Idempotency-Key`, as it is replayed. */
export interface StoredAnswer {
	status: number;
	body: string;
	contentType?: string;
	location?: string;
}

export interface DoneRecord extends StoredAnswer {
	state: "done";
	/** Hash of the request the key was first used with. */
	fingerprint: string;
}

export interface PendingRecord {
	state: "pending";
	fingerprint: string;
}

export type IdempotencyRecord = DoneRecord | PendingRecord;

/** What `claim` found: the key is ours now (with the token proving it), or someone's record. */
export type ClaimResult = { claimed: true; token: string } | { claimed: false; record: IdempotencyRecord };

/**
 * Where the gateways keep the answers of requests made with an
 * `Idempotency-Key`. A key is first claimed (atomic set-if-absent, with a
 * lock time-to-live so a crashed gateway does not hold it forever), then either
 * completed with the answer (kept `ttlSeconds`) or released when the request
 * failed in a way worth retrying. Only the holder of the claim's token can
 * complete or release it.
 */
export interface IdempotencyStore {
	claim(key: string, fingerprint: string, lockMs: number): Promise<ClaimResult>;
	complete(key: string, token: string, record: DoneRecord, ttlSeconds: number): Promise<boolean>;
	release(key: string, token: string): Promise<void>;
	close(): Promise<void>;
}

type Stored = IdempotencyRecord & { token?: string };

function parse(raw: string | null): Stored | null {
	if (!raw) return null;
	try {
		return JSON.parse(raw) as Stored;
	} catch {
		return null;
	}
}

function publicRecord(stored: Stored): IdempotencyRecord {
	const { token: _token, ...record } = stored;
	return record;
}

/** Replaces the record only while it is still the pending claim of `token`. */
const COMPLETE = new RedisScript<number>(
	"idempotencyComplete",
	1,
	`
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
if cjson.decode(cur).token ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1`
);

const RELEASE = new RedisScript<number>(
	"idempotencyRelease",
	1,
	`
local cur = redis.call('GET', KEYS[1])
if cur and cjson.decode(cur).token == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1`
);

const KEY = (key: string) => `idempotency:${key}`;

/** Shared by every gateway of the namespace (keys under its prefix). */
export class RedisIdempotencyStore implements IdempotencyStore {
	private readonly client: Redis;

	constructor(url: string, keyPrefix: string, logger: Logger) {
		this.client = createRedisClient({ url, keyPrefix, name: "api-idempotency", logger });
	}

	async claim(key: string, fingerprint: string, lockMs: number): Promise<ClaimResult> {
		const token = randomUUID();
		const pending: Stored = { state: "pending", fingerprint, token };
		const set = await this.client.set(KEY(key), JSON.stringify(pending), "PX", lockMs, "NX");
		if (set === "OK") return { claimed: true, token };
		const current = parse(await this.client.get(KEY(key)));
		// Expired or unreadable between the two commands: claim again next round.
		return { claimed: false, record: current ? publicRecord(current) : { state: "pending", fingerprint } };
	}

	async complete(key: string, token: string, record: DoneRecord, ttlSeconds: number): Promise<boolean> {
		return (await COMPLETE.run(this.client, [KEY(key)], [token, JSON.stringify(record), ttlSeconds])) === 1;
	}

	async release(key: string, token: string): Promise<void> {
		await RELEASE.run(this.client, [KEY(key)], [token]);
	}

	async close(): Promise<void> {
		try {
			await this.client.quit();
		} catch {
			this.client.disconnect();
		}
	}
}

/** The embedded mode's store: one process, nothing persisted. */
export class MemoryIdempotencyStore implements IdempotencyStore {
	private readonly records = new Map<string, { stored: Stored; expiresAt: number }>();

	private current(key: string): Stored | null {
		const entry = this.records.get(key);
		if (!entry) return null;
		if (entry.expiresAt <= Date.now()) {
			this.records.delete(key);
			return null;
		}
		return entry.stored;
	}

	async claim(key: string, fingerprint: string, lockMs: number): Promise<ClaimResult> {
		const current = this.current(key);
		if (current) return { claimed: false, record: publicRecord(current) };
		const token = randomUUID();
		this.records.set(key, { stored: { state: "pending", fingerprint, token }, expiresAt: Date.now() + lockMs });
		return { claimed: true, token };
	}

	async complete(key: string, token: string, record: DoneRecord, ttlSeconds: number): Promise<boolean> {
		if (this.current(key)?.token !== token) return false;
		this.records.set(key, { stored: record, expiresAt: Date.now() + ttlSeconds * 1000 });
		return true;
	}

	async release(key: string, token: string): Promise<void> {
		if (this.current(key)?.token === token) this.records.delete(key);
	}

	async close(): Promise<void> {
		this.records.clear();
	}
}

export interface IdempotencyStoreOptions {
	redisUrl?: string;
	keyPrefix: string;
	logger: Logger;
}

/** Redis when the node has one (every gateway must see the same keys), else memory. */
export function createIdempotencyStore(opts: IdempotencyStoreOptions): IdempotencyStore {
	return opts.redisUrl
		? new RedisIdempotencyStore(opts.redisUrl, opts.keyPrefix, opts.logger)
		: new MemoryIdempotencyStore();
}
