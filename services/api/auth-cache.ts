import type { Context, Service, ServiceSchema } from "moleculer";
import type { AuthState } from "../users/types";

/**
 * The event every users node broadcasts after a write (to every node that
 * listens, gateways included; not a balanced `emit`, which would reach only
 * one gateway of several). Defined by the users service.
 */
const CACHE_CLEAN_EVENT = "cache.clean.users";

interface CleanPayload {
	/** The user whose record changed; absent when any may have. */
	id?: string;
}

interface Entry {
	state: AuthState;
	expires: number;
}

export interface AuthCacheOptions {
	/** Most users kept; the least recently used goes first. */
	max: number;
	/** A safety net only: writes drop their user's entry at once. */
	ttlMs: number;
}

/**
 * What each authenticated request checks its token against (token version,
 * role), kept on the gateway for recently seen users so that the check costs
 * no transporter round trip of its own. Entries are dropped when the users
 * service broadcasts a write; a fetch that an invalidation overtook is not
 * stored (it may predate the write); deleted users (null) are never stored.
 */
export class AuthStateCache {
	private readonly entries = new Map<string, Entry>();
	/** Bumped by every invalidation: a fetch started before one is not stored. */
	private epoch = 0;

	constructor(private readonly options: AuthCacheOptions) {}

	get size(): number {
		return this.entries.size;
	}

	/** The cached state of `id`, else `fetch`'s answer (stored unless invalidated meanwhile). */
	async get(id: string, fetch: () => Promise<AuthState | null>): Promise<AuthState | null> {
		const entry = this.entries.get(id);
		const now = Date.now();
		if (entry) {
			if (entry.expires > now) {
				// Map order is insertion order: re-inserting makes it the most recent.
				this.entries.delete(id);
				this.entries.set(id, entry);
				return entry.state;
			}
			this.entries.delete(id);
		}
		const epoch = this.epoch;
		const state = await fetch();
		if (state && epoch === this.epoch) {
			if (this.entries.size >= this.options.max) {
				this.entries.delete(this.entries.keys().next().value as string);
			}
			this.entries.set(id, { state, expires: now + this.options.ttlMs });
		}
		return state;
	}

	drop(id: string): void {
		this.epoch++;
		this.entries.delete(id);
	}

	clear(): void {
		this.epoch++;
		this.entries.clear();
	}
}

export interface AuthCacheLocals {
	authCache: AuthStateCache;
}

/**
 * The gateway's side of the cache: drop a user's entry on the users service's
 * write broadcast, and everything when an invalidation may have been missed:
 * after a transporter reconnect, or when a users node leaves (what it
 * broadcast just before may not have arrived).
 */
export function authCacheMixin(options: AuthCacheOptions): Partial<ServiceSchema> {
	return {
		events: {
			[CACHE_CLEAN_EVENT]: {
				handler(this: Service & AuthCacheLocals, ctx: Context<CleanPayload>): void {
					if (ctx.params?.id) this.authCache.drop(ctx.params.id);
					else this.authCache.clear();
				}
			},
			"$transporter.connected": {
				handler(this: Service & AuthCacheLocals): void {
					this.authCache.clear();
				}
			},
			"$node.disconnected": {
				handler(this: Service & AuthCacheLocals): void {
					this.authCache.clear();
				}
			}
		},
		created(this: Service) {
			(this as Service & AuthCacheLocals).authCache = new AuthStateCache(options);
		}
	};
}
