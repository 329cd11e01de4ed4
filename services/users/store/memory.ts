import { EmailTakenError, UserNotFoundError } from "../errors";
import type { ListQuery, ListResult, NewUser, UserChanges, UserStore } from "./base";
import type { UserRecord } from "../types";

/** The embedded mode's store: one process, nothing persisted. */
export class MemoryUserStore implements UserStore {
	readonly kind = "memory";
	/** Insertion order of a Map is creation order. */
	private readonly byId = new Map<string, UserRecord>();
	private readonly idByEmail = new Map<string, string>();

	async get(id: string): Promise<UserRecord | null> {
		const user = this.byId.get(id);
		return user ? { ...user } : null;
	}

	async findByEmail(email: string): Promise<UserRecord | null> {
		const id = this.idByEmail.get(email);
		return id ? this.get(id) : null;
	}

	async create(user: NewUser): Promise<UserRecord> {
		if (this.idByEmail.has(user.email)) throw new EmailTakenError(user.email);
		const { createdAt, ...rest } = user;
		const record: UserRecord = { ...rest, createdAt, updatedAt: createdAt, tokenVersion: 0 };
		this.byId.set(record.id, record);
		this.idByEmail.set(record.email, record.id);
		return { ...record };
	}

	async update(id: string, changes: UserChanges): Promise<UserRecord> {
		const user = this.byId.get(id);
		if (!user) throw new UserNotFoundError(id);
		if (changes.email != null && changes.email !== user.email) {
			const owner = this.idByEmail.get(changes.email);
			if (owner && owner !== id) throw new EmailTakenError(changes.email);
			this.idByEmail.delete(user.email);
			this.idByEmail.set(changes.email, id);
		}
		const { passwordHash, ...rest } = changes;
		Object.assign(user, rest);
		if (passwordHash != null) {
			user.passwordHash = passwordHash;
			user.tokenVersion += 1;
		}
		return { ...user };
	}

	async remove(id: string): Promise<boolean> {
		const user = this.byId.get(id);
		if (!user) return false;
		this.byId.delete(id);
		this.idByEmail.delete(user.email);
		return true;
	}

	async list({ offset, limit, prefix }: ListQuery): Promise<ListResult> {
		let users = [...this.byId.values()];
		if (prefix) {
			users = users.filter(u => u.email.startsWith(prefix) || u.name.toLowerCase().startsWith(prefix));
		}
		return { rows: users.slice(offset, offset + limit).map(u => ({ ...u })), total: users.length };
	}

	async count(): Promise<number> {
		return this.byId.size;
	}

	async ping(): Promise<number> {
		return 0;
	}

	async close(): Promise<void> {}
}
