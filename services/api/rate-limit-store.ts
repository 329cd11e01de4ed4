import type { Redis } from "ioredis";
import type { ServiceBroker } from "moleculer";
import type { RateLimitSettings } from "moleculer-web";
import { createRedisClient } from "../../src/redis";
import { RedisScript } from "../../src/redis-script";

/**
 * One Lua call per request: increment the client's counter of the current
 * window and set its expiry on first use, so every gateway shares the count.
 */
const INCREMENT = new RedisScript<number>(
	"rateLimitIncr",
	1,
	`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`
);

export interface RateLimitStoreOptions {
	/** Counters in this Redis, shared by every gateway; none = in this process's memory. */
	url?: string;
	keyPrefix: string;
	/**
	 * The budget counted: routes given the same name share one count per client
	 * (global), another name counts apart (login).
	 */
	name: string;
}

/** What a moleculer-web route calls; `resetTime` is read for `X-Rate-Limit-Reset`. */
export interface RateLimitStore {
	resetTime: number;
	inc(key: string): Promise<number> | number;
	close(): void;
}

/** Counts of one budget in fixed windows aligned on the clock, in Redis or in memory. */
abstract class WindowedStore implements RateLimitStore {
	resetTime: number;

	constructor(protected readonly windowMs: number) {
		this.resetTime = this.windowEnd(Date.now());
	}

	protected windowEnd(now: number): number {
		return (Math.floor(now / this.windowMs) + 1) * this.windowMs;
	}

	abstract inc(key: string): Promise<number> | number;
	abstract close(): void;
}

class MemoryWindowStore extends WindowedStore {
	private counts = new Map<string, number>();

	inc(key: string): number {
		const end = this.windowEnd(Date.now());
		if (end !== this.resetTime) {
			this.resetTime = end;
			this.counts = new Map();
		}
		const n = (this.counts.get(key) ?? 0) + 1;
		this.counts.set(key, n);
		return n;
	}

	close(): void {
		this.counts.clear();
	}
}

/**
 * When Redis cannot be reached the request is let through (and logged): the
 * limiter must not turn a Redis outage into a full API outage.
 */
class RedisWindowStore extends WindowedStore {
	constructor(
		windowMs: number,
		private readonly client: SharedClient,
		private readonly name: string,
		private readonly broker: ServiceBroker
	) {
		super(windowMs);
	}

	async inc(key: string): Promise<number> {
		const now = Date.now();
		const end = this.windowEnd(now);
		this.resetTime = end;
		try {
			return await INCREMENT.run(this.client.redis, [`rl:${this.name}:${end}:${key}`], [end - now + 1000]);
		} catch (err) {
			this.broker.getLogger("rate-limit").warn(`Rate limit not counted (Redis): ${(err as Error).message}`);
			return 0;
		}
	}

	close(): void {
		this.client.release();
	}
}

interface SharedClient {
	redis: Redis;
	acquire(): void;
	/** Disconnects once every store that acquired it let go. */
	release(): void;
}

/** Per gateway (broker): its stores by budget name, and its one Redis client. */
interface BrokerStores {
	stores: Map<string, RateLimitStore>;
	client?: SharedClient;
}

const byBroker = new WeakMap<ServiceBroker, BrokerStores>();

function redisClientOf(entry: BrokerStores, opts: RateLimitStoreOptions, broker: ServiceBroker): SharedClient {
	if (entry.client) return entry.client;
	const redis = createRedisClient({
		url: opts.url as string,
		keyPrefix: opts.keyPrefix,
		// One per gateway: `CLIENT LIST` shows which.
		name: `rate-limit-${broker.nodeID}`,
		logger: broker.getLogger("rate-limit"),
		// Fail at once while Redis is away rather than queue.
		enableOfflineQueue: false,
		// One script call per request, from every connection: those of one
		// event-loop turn leave in one write (counters need no order between
		// requests; a failed batch lets each of its requests through, as a
		// lone failed call does). Measured in docs/performance.md.
		enableAutoPipelining: true
	});
	let users = 0;
	const client: SharedClient = {
		redis,
		acquire() {
			users++;
		},
		release() {
			if (--users > 0) return;
			redis.disconnect();
			if (entry.client === client) entry.client = undefined;
		}
	};
	entry.client = client;
	return client;
}

/**
 * A moleculer-web `StoreFactory`. moleculer-web builds a store per route; this
 * hands every route of one gateway with the same `name` one shared store
 * (one count per client across those routes, as documented), and all of a
 * gateway's Redis stores one Redis connection. `close()` (when the gateway
 * stops) is idempotent per route.
 */
export function rateLimitStore(opts: RateLimitStoreOptions) {
	return function SharedRateLimitStore(windowMs: number, _settings: RateLimitSettings, broker: ServiceBroker) {
		let entry = byBroker.get(broker);
		if (!entry) {
			entry = { stores: new Map() };
			byBroker.set(broker, entry);
		}
		const brokerEntry = entry;
		let store = brokerEntry.stores.get(opts.name);
		if (!store) {
			if (opts.url) {
				const client = redisClientOf(brokerEntry, opts, broker);
				client.acquire();
				store = new RedisWindowStore(windowMs, client, opts.name, broker);
			} else {
				store = new MemoryWindowStore(windowMs);
			}
			const shared = store;
			const close = shared.close.bind(shared);
			shared.close = () => {
				if (brokerEntry.stores.get(opts.name) !== shared) return;
				brokerEntry.stores.delete(opts.name);
				close();
			};
			brokerEntry.stores.set(opts.name, shared);
		}
		return store;
	} as unknown as new (windowMs: number, settings: RateLimitSettings, broker: ServiceBroker) => RateLimitStore;
}
