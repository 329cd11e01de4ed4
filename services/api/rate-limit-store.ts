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

export interface RedisRateLimitOptions {
	url: string;
	keyPrefix: string;
	/** Distinguishes the limits of different routes (global, login). */
	name: string;
}

/**
 * A moleculer-web rate-limit store in Redis: fixed windows aligned on the
 * clock, shared by all gateway instances. When Redis cannot be reached the
 * request is let through (and logged): the limiter must not turn a Redis
 * outage into a full API outage.
 */
export function redisRateLimitStore(opts: RedisRateLimitOptions) {
	return class RedisRateLimitStore {
		resetTime: number;
		private readonly windowMs: number;
		private readonly client: Redis;
		private readonly broker: ServiceBroker;

		constructor(windowMs: number, _settings: RateLimitSettings, broker: ServiceBroker) {
			this.windowMs = windowMs;
			this.broker = broker;
			this.resetTime = this.windowEnd(Date.now());
			const client = createRedisClient({
				url: opts.url,
				keyPrefix: opts.keyPrefix,
				name: `rate-limit-${opts.name}`,
				logger: broker.getLogger("rate-limit"),
				// Fail at once while Redis is away rather than queue.
				enableOfflineQueue: false,
				// One script call per request, from every connection: those of one
				// event-loop turn leave in one write (counters need no order between
				// requests; a failed batch lets each of its requests through, as a
				// lone failed call does). Measured in docs/performance.md.
				enableAutoPipelining: true
			});
			this.client = client;
		}

		/** Called by the gateway when it stops. */
		close(): void {
			this.client.disconnect();
		}

		private windowEnd(now: number): number {
			return (Math.floor(now / this.windowMs) + 1) * this.windowMs;
		}

		async inc(key: string): Promise<number> {
			const now = Date.now();
			const end = this.windowEnd(now);
			this.resetTime = end;
			try {
				return await INCREMENT.run(this.client, [`rl:${opts.name}:${end}:${key}`], [end - now + 1000]);
			} catch (err) {
				this.broker.getLogger("rate-limit").warn(`Rate limit not counted (Redis): ${(err as Error).message}`);
				return 0;
			}
		}
	};
}
