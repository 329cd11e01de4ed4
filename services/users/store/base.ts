import type { Role, UserRecord } from "../types";

export interface NewUser {
	id: string;
	email: string;
	name: string;
	role: Role;
	passwordHash: string;
	/** ISO timestamp, also used for `updatedAt`. */
	createdAt: string;
}

export interface UserChanges {
	email?: string;
	name?: string;
	role?: Role;
	/** A new hash also bumps `tokenVersion`. */
	passwordHash?: string;
	updatedAt: string;
}

export interface ListQuery {
	offset: number;
	limit: number;
	/** Lower-case prefix of the email or the name. */
	prefix?: string;
}

export interface ListResult {
	rows: UserRecord[];
	total: number;
}

/**
 * Where users live. Rows come back as plain objects in creation order; writes
 * that touch several keys are atomic; email uniqueness is the store's job.
 */
export interface UserStore {
	readonly kind: "redis" | "memory";
	get(id: string): Promise<UserRecord | null>;
	findByEmail(email: string): Promise<UserRecord | null>;
	/** @throws EmailTakenError */
	create(user: NewUser): Promise<UserRecord>;
	/** @throws UserNotFoundError, EmailTakenError */
	update(id: string, changes: UserChanges): Promise<UserRecord>;
	/** Resolves false when there was no such user. */
	remove(id: string): Promise<boolean>;
	list(query: ListQuery): Promise<ListResult>;
	count(): Promise<number>;
	/** Round-trip time to the backing store in ms. */
	ping(): Promise<number>;
	close(): Promise<void>;
}
