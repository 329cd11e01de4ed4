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

export interface RateLimitBudgetOptions {
	/** Counters in this Redis, shared by every gateway; none = in this process's memory. */
	url?: string;
	keyPrefix: string;
}

/** What a moleculer-web route calls; `resetTime` is read for `X-Rate-Limit-Reset`. */
export interface RateLimitStore {
	resetTime: number;
	inc(key: string): Promise<number> | number;
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
}

/**
 * When Redis cannot be reached the request is let through (and logged): the
 * limiter must not turn a Redis outage into a full API outage.
 */
class RedisWindowStore extends WindowedStore {
	constructor(
		windowMs: number,
		private readonly client: Redis,
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
			return await INCREMENT.run(this.client, [`rl:${this.name}:${end}:${key}`], [end - now + 1000]);
		} catch (err) {
			this.broker.getLogger("rate-limit").warn(`Rate limit not counted (Redis): ${(err as Error).message}`);
			return 0;
		}
	}
}

/**
 * One gateway's rate-limit budgets (a service local of the gateway): a store
 * per budget name, and one Redis connection for all of them. moleculer-web
 * builds a store per route; `storeFactory(name)` hands every route of the
 * same budget the same store, so a client has one count per budget across
 * those routes (global), another name counts apart (login).
 */
export class RateLimitBudgets {
	private readonly stores = new Map<string, RateLimitStore>();
	private client?: Redis;

	constructor(private readonly opts: RateLimitBudgetOptions) {}

	/** A moleculer-web `StoreFactory` for the routes counted in budget `name`. */
	storeFactory(
		name: string
	): new (windowMs: number, settings: RateLimitSettings, broker: ServiceBroker) => RateLimitStore {
		const make = (windowMs: number, broker: ServiceBroker) => this.store(name, windowMs, broker);
		// moleculer-web calls it with `new`: a constructor that returns the shared store.
		return function BudgetStore(windowMs: number, _settings: RateLimitSettings, broker: ServiceBroker) {
			return make(windowMs, broker);
		} as unknown as new (windowMs: number, settings: RateLimitSettings, broker: ServiceBroker) => RateLimitStore;
	}

	/** The store of budget `name`, made on first use. */
	store(name: string, windowMs: number, broker: ServiceBroker): RateLimitStore {
		let store = this.stores.get(name);
		if (!store) {
			store = this.opts.url
				? new RedisWindowStore(windowMs, this.redis(broker), name, broker)
				: new MemoryWindowStore(windowMs);
			this.stores.set(name, store);
		}
		return store;
	}

	/** Called when the gateway stops: forgets every count, closes the connection. */
	close(): void {
		this.stores.clear();
		this.client?.disconnect();
		this.client = undefined;
	}

	private redis(broker: ServiceBroker): Redis {
		this.client ??= createRedisClient({
			url: this.opts.url as string,
			keyPrefix: this.opts.keyPrefix,
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
		return this.client;
	}
}
