import { randomUUID } from "node:crypto";
import { Errors, type Context, type ServiceSchema, type ServiceSettingSchema } from "moleculer";
import { getConfig } from "../src/config";
import { EmailTakenError, InvalidCredentialsError, UserNotFoundError, WrongPasswordError } from "./users/errors";
import { USERS_OPENAPI } from "./users/openapi";
import { hashPassword, verifyPassword } from "./users/password";
import { checkChange, checkRemove, type Actor } from "./users/policy";
import { email, givenPassword, id, name, password, query, role } from "./users/rules";
import { createUserStore, type UserChanges, type UserStore } from "./users/store";
import type { AuthState, Credentials, PublicUser, Role, UserPage, UserRecord, UsersHealth } from "./users/types";

export interface UsersSettings extends ServiceSettingSchema {
	/** Redis of the user store; none = in memory (embedded mode only). */
	redisUrl?: string;
	keyPrefix: string;
	/** Admin account created on start when no user has this email. */
	admin?: { email: string; password: string };
}

export interface UsersMethods {
	ensureAdmin(admin: { email: string; password: string }): Promise<void>;
	createUser(ctx: Context, params: UsersCreateParams): Promise<PublicUser>;
	toPublic(user: UserRecord): PublicUser;
	clearCache(id?: string): Promise<void>;
	cleanLocalCache(): Promise<void>;
}

/**
 * Broadcast by a users node after every write, so that each users node drops
 * its cached reads (the cacher is an in-memory LRU per node) and each gateway
 * the written user's auth state (services/api/auth-cache.ts). A broadcast, not
 * an `emit`: a balanced event would reach one gateway of several. The name is
 * the one Moleculer's caching guide uses for this pattern.
 */
export const CACHE_CLEAN_EVENT = "cache.clean.users";

export interface CacheCleanPayload {
	/** The node that wrote (it cleaned its own cache before broadcasting). */
	nodeID: string;
	/** The user written; absent when any user may have changed. */
	id?: string;
}

export interface UsersLocals {
	store: UserStore;
	/** A hash of nothing, compared against when the email is unknown. */
	decoyHash: string;
}

/** Set by the gateway for authenticated HTTP calls; absent for trusted internal calls. */
export interface UsersMeta {
	user?: Actor;
}

export interface UsersCreateParams {
	email: string;
	name: string;
	password: string;
	role?: Role;
}
export type UsersRegisterParams = Omit<UsersCreateParams, "role">;
export interface UsersGetParams {
	id: string;
}
export interface UsersListParams {
	page: number;
	pageSize: number;
	q?: string;
}
export interface UsersUpdateParams {
	id: string;
	email?: string;
	name?: string;
	password?: string;
	role?: Role;
	currentPassword?: string;
}
export type UsersRemoveParams = UsersGetParams;
export interface UsersVerifyCredentialsParams {
	email: string;
	password: string;
}
export type UsersAuthStateParams = UsersGetParams;

const config = getConfig();

const UsersService: ServiceSchema<UsersSettings, UsersMethods, UsersLocals> = {
	name: "users",

	settings: {
		rest: "/users",
		$secureSettings: ["redisUrl", "admin"],
		redisUrl: config.redisUrl,
		keyPrefix: config.redisKeyPrefix,
		admin: config.admin
	},

	// The shapes of its answers, for the gateway's OpenAPI document (it reads them from the registry).
	metadata: { openapi: USERS_OPENAPI },

	actions: {
		/** Creates a user with any role (internal: REPL, bootstrap); 409 EMAIL_TAKEN if the email exists. */
		create: {
			visibility: "public",
			retryPolicy: { enabled: false },
			params: { $$strict: true, email, name, password, role: { ...role, optional: true } },
			handler(ctx: Context<UsersCreateParams>): Promise<PublicUser> {
				return this.createUser(ctx, ctx.params);
			}
		},

		/** Public sign-up: always role `user`; 409 EMAIL_TAKEN if the email exists. */
		register: {
			rest: "POST /",
			http: {
				route: "public",
				status: 201,
				location: "/users/{id}",
				idempotencyKey: true,
				servedBy: true,
				summary: "Sign up (role is always `user`)",
				description: "An `Idempotency-Key` header replays the first answer to a retried request.",
				tag: "users",
				schema: "User",
				errors: [400, 409, 413, 415, 422]
			},
			retryPolicy: { enabled: false },
			params: { $$strict: true, email, name, password },
			async handler(ctx: Context<UsersRegisterParams>): Promise<PublicUser> {
				return this.createUser(ctx, { ...ctx.params, role: "user" });
			}
		},

		/** One user by id; 404 USER_NOT_FOUND. */
		get: {
			rest: "GET /:id",
			http: {
				route: "authenticated",
				servedBy: true,
				summary: "One user",
				tag: "users",
				schema: "User",
				errors: [401, 404, 422]
			},
			cache: { keys: ["id"] },
			params: { $$strict: true, id },
			async handler(ctx: Context<UsersGetParams>): Promise<PublicUser> {
				const user = await this.store.get(ctx.params.id);
				if (!user) throw new UserNotFoundError(ctx.params.id);
				return this.toPublic(user);
			}
		},

		/** A page of users in creation order, optionally those whose email or name starts with `q`. */
		list: {
			rest: "GET /",
			http: {
				route: "authenticated",
				servedBy: true,
				summary: "A page of users, optionally those whose name or email starts with `q`",
				tag: "users",
				schema: "UserPage",
				errors: [401, 422]
			},
			cache: { keys: ["page", "pageSize", "q"] },
			params: {
				$$strict: true,
				page: { type: "number", integer: true, min: 1, max: 1_000_000, convert: true, default: 1 },
				pageSize: { type: "number", integer: true, min: 1, max: 100, convert: true, default: 20 },
				q: { ...query, optional: true }
			},
			async handler(ctx: Context<UsersListParams>): Promise<UserPage> {
				const { page, pageSize } = ctx.params;
				const prefix = ctx.params.q?.toLowerCase() || undefined;
				const { rows, total } = await this.store.list({
					offset: (page - 1) * pageSize,
					limit: pageSize,
					prefix
				});
				return {
					rows: rows.map(u => this.toPublic(u)),
					total,
					page,
					pageSize,
					totalPages: Math.ceil(total / pageSize)
				};
			}
		},

		/**
		 * Changes name, email, password or role. An authenticated caller acts on
		 * itself or is an admin; only admins change roles; one's own email or
		 * password change needs `currentPassword`. 403, 404 USER_NOT_FOUND, 409 EMAIL_TAKEN.
		 */
		update: {
			rest: "PATCH /:id",
			http: {
				route: "authenticated",
				servedBy: true,
				summary: "Change name, email, password (role: admins only)",
				description: "Changing one's own email or password needs `currentPassword`.",
				access: "self or admin",
				tag: "users",
				schema: "User",
				errors: [400, 401, 403, 404, 409, 413, 415, 422]
			},
			retryPolicy: { enabled: false },
			params: {
				$$strict: true,
				id,
				email: { ...email, optional: true },
				name: { ...name, optional: true },
				password: { ...password, optional: true },
				role: { ...role, optional: true },
				currentPassword: { ...givenPassword, optional: true }
			},
			async handler(ctx: Context<UsersUpdateParams, UsersMeta>): Promise<PublicUser> {
				const { id: userId, password: newPassword, currentPassword, ...given } = ctx.params;
				// Optional rules may leave a key holding undefined: only values count.
				const fields = Object.fromEntries(
					Object.entries(given).filter(([, value]) => value !== undefined)
				) as typeof given;
				if (Object.keys(fields).length === 0 && newPassword == null) {
					throw new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR", [
						{
							type: "required",
							field: "body",
							message: "At least one of 'name', 'email', 'password' or 'role' is required."
						}
					]);
				}
				const needsPassword = checkChange(ctx.meta.user, { targetId: userId, ...ctx.params });
				const existing = await this.store.get(userId);
				if (!existing) throw new UserNotFoundError(userId);
				if (needsPassword && !(await verifyPassword(currentPassword ?? "", existing.passwordHash))) {
					throw new WrongPasswordError();
				}
				const changes: UserChanges = { ...fields, updatedAt: new Date().toISOString() };
				if (newPassword != null) changes.passwordHash = await hashPassword(newPassword);
				const user = await this.store.update(userId, changes);
				await this.clearCache(userId);
				const pub = this.toPublic(user);
				ctx.emit("user.updated", pub);
				return pub;
			}
		},

		/** Deletes a user (oneself, or any as an admin); their tokens stop working. 403, 404 USER_NOT_FOUND. */
		remove: {
			rest: "DELETE /:id",
			http: {
				route: "authenticated",
				status: 204,
				servedBy: true,
				summary: "Delete a user; their tokens stop working",
				access: "self or admin",
				tag: "users",
				errors: [401, 403, 404, 422]
			},
			retryPolicy: { enabled: false },
			params: { $$strict: true, id },
			async handler(ctx: Context<UsersRemoveParams, UsersMeta>): Promise<void> {
				checkRemove(ctx.meta.user, ctx.params.id);
				const removed = await this.store.remove(ctx.params.id);
				if (!removed) throw new UserNotFoundError(ctx.params.id);
				await this.clearCache(ctx.params.id);
				ctx.emit("user.removed", { id: ctx.params.id });
			}
		},

		/** The user behind an email and password; 401 INVALID_CREDENTIALS, same for both mistakes. */
		verifyCredentials: {
			visibility: "public",
			params: { $$strict: true, email, password: givenPassword },
			async handler(ctx: Context<UsersVerifyCredentialsParams>): Promise<Credentials> {
				const user = await this.store.findByEmail(ctx.params.email);
				// Hash even for an unknown email, so timing does not tell which emails exist.
				const ok = await verifyPassword(ctx.params.password, user?.passwordHash ?? this.decoyHash);
				if (!user || !ok) throw new InvalidCredentialsError();
				return { user: this.toPublic(user), tokenVersion: user.tokenVersion };
			}
		},

		/** What a token must still match: the user's role and token version; null once deleted. Cached. */
		authState: {
			visibility: "public",
			cache: { keys: ["id"] },
			params: { $$strict: true, id },
			async handler(ctx: Context<UsersAuthStateParams>): Promise<AuthState | null> {
				const user = await this.store.get(ctx.params.id);
				return user ? { id: user.id, role: user.role, tokenVersion: user.tokenVersion } : null;
			}
		},

		/** How many users are stored. */
		count: {
			cache: true,
			params: { $$strict: true },
			handler(): Promise<number> {
				return this.store.count();
			}
		},

		/** Store reachability and latency of this node (`status: "down"` when unreachable). */
		health: {
			rest: "GET /health",
			http: {
				route: "open",
				downStatus: 503,
				servedBy: true,
				summary: "Health of one users node: store reachability and latency",
				description: "503 with the same body when the store is unreachable.",
				tag: "service",
				schema: "UsersHealth"
			},
			params: { $$strict: true },
			async handler(): Promise<UsersHealth> {
				const store: UsersHealth["store"] = {
					kind: this.store.kind,
					reachable: true,
					latencyMs: null
				};
				try {
					store.latencyMs = Math.round((await this.store.ping()) * 100) / 100;
				} catch {
					store.reachable = false;
					store.error = "unreachable";
				}
				return { status: store.reachable ? "ok" : "down", nodeID: this.broker.nodeID, store };
			}
		}
	},

	events: {
		/** Another users node wrote: drop this node's cached reads. */
		[CACHE_CLEAN_EVENT]: {
			handler(ctx: Context<CacheCleanPayload>): Promise<void> | void {
				if (ctx.params.nodeID !== this.broker.nodeID) return this.cleanLocalCache();
			}
		},

		/** Cleans broadcast while this node was cut off are lost: start afresh after a reconnect. */
		"$transporter.connected": {
			handler(ctx: Context<{ wasReconnect?: boolean }>): Promise<void> | void {
				if (ctx.params.wasReconnect) return this.cleanLocalCache();
			}
		}
	},

	methods: {
		async createUser(ctx: Context, params: UsersCreateParams): Promise<PublicUser> {
			// A cheap early answer for a taken email spares a scrypt hash; the
			// store's atomic insert still settles races between nodes.
			if (await this.store.findByEmail(params.email)) throw new EmailTakenError(params.email);
			const user = await this.store.create({
				id: randomUUID(),
				email: params.email,
				name: params.name,
				role: params.role ?? "user",
				passwordHash: await hashPassword(params.password),
				createdAt: new Date().toISOString()
			});
			await this.clearCache(user.id);
			const pub = this.toPublic(user);
			ctx.emit("user.created", pub);
			return pub;
		},

		/** The ADMIN_EMAIL bootstrap; several nodes may race, the unique email index settles it. */
		async ensureAdmin(admin: { email: string; password: string }): Promise<void> {
			const emailAddress = admin.email.trim().toLowerCase();
			if (await this.store.findByEmail(emailAddress)) return;
			try {
				await this.store.create({
					id: randomUUID(),
					email: emailAddress,
					name: "Administrator",
					role: "admin",
					passwordHash: await hashPassword(admin.password),
					createdAt: new Date().toISOString()
				});
				await this.clearCache();
				this.logger.info(`Admin account created for ${emailAddress}.`);
			} catch (err) {
				if ((err as { type?: string }).type !== "EMAIL_TAKEN") throw err;
			}
		},

		toPublic(user: UserRecord): PublicUser {
			return {
				id: user.id,
				email: user.email,
				name: user.name,
				role: user.role,
				createdAt: user.createdAt,
				updatedAt: user.updatedAt
			};
		},

		/**
		 * Drops the cached reads of this node at once, then of every other users
		 * node. The broadcast is published before this action's answer, on the
		 * same transporter connection, so it reaches every other node ahead of
		 * any request the client sends after that answer: a read through
		 * another node after a write sees the write (read-your-writes), and a
		 * revoked token is refused by every gateway. Without a transporter the
		 * broadcast reaches the local gateway only.
		 */
		async clearCache(id?: string): Promise<void> {
			await this.cleanLocalCache();
			const payload: CacheCleanPayload = { nodeID: this.broker.nodeID, id };
			try {
				await this.broker.broadcast(CACHE_CLEAN_EVENT, payload);
			} catch (err) {
				// The write is stored; the other nodes' entries expire with their TTL.
				this.logger.warn(`Could not broadcast ${CACHE_CLEAN_EVENT}:`, (err as Error).message);
			}
		},

		async cleanLocalCache(): Promise<void> {
			await this.broker.cacher?.clean(`${this.name}.**`);
		}
	},

	async started() {
		this.decoyHash = await hashPassword(randomUUID());
		this.store = createUserStore({
			redisUrl: this.settings.redisUrl,
			keyPrefix: this.settings.keyPrefix,
			clustered: this.broker.transit != null,
			logger: this.logger
		});
		if (this.store.kind === "memory") {
			this.logger.warn("Data is not persisted: users are kept in memory (no REDIS_URL).");
		}
		if (this.settings.admin) await this.ensureAdmin(this.settings.admin);
	},

	async stopped() {
		await this.store?.close();
	}
};

export default UsersService;
