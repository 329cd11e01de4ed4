import type { Redis } from "ioredis";
import type { ServiceBroker } from "moleculer";
import type { RateLimitSettings } from "moleculer-web";
import { createRedisClient } from "../../src/redis";

/**
 * One Lua call per request: increment the client's counter of the current
 * window and set its expiry on first use, so every gateway shares the count.
 */
const INCREMENT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

interface Scripts {
	rateLimitIncr(key: string, windowMs: number): Promise<number>;
}

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
		private readonly client: Redis & Scripts;
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
				enableOfflineQueue: false
			});
			client.defineCommand("rateLimitIncr", { numberOfKeys: 1, lua: INCREMENT });
			this.client = client as Redis & Scripts;
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
				return await this.client.rateLimitIncr(`rl:${opts.name}:${end}:${key}`, end - now + 1000);
			} catch (err) {
				this.broker.getLogger("rate-limit").warn(`Rate limit not counted (Redis): ${(err as Error).message}`);
				return 0;
			}
		}
	};
}
