import type { Logger } from "moleculer";
import { MemoryUserStore } from "./memory";
import { RedisUserStore } from "./redis";
import type { UserStore } from "./base";

export type { ListQuery, ListResult, NewUser, UserChanges, UserStore } from "./base";
export { MemoryUserStore, RedisUserStore };

export interface UserStoreOptions {
	/** Redis URL; without it the store is in memory. */
	redisUrl?: string;
	keyPrefix: string;
	/** True when this node is part of a cluster (it has a transporter). */
	clustered: boolean;
	logger: Logger;
}

/** Picks the store; a clustered node never falls back to memory. */
export function createUserStore(opts: UserStoreOptions): UserStore {
	if (opts.redisUrl) return new RedisUserStore(opts.redisUrl, opts.keyPrefix, opts.logger);
	if (opts.clustered) {
		throw new Error(
			"users: this node has a transporter but no REDIS_URL. An in-memory user store " +
				"would silently diverge from the other nodes; set REDIS_URL (or run without a " +
				"transporter for the single-process embedded mode)."
		);
	}
	return new MemoryUserStore();
}
