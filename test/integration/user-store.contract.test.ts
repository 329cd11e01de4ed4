import { randomUUID } from "node:crypto";
import { ServiceBroker } from "moleculer";
import { EmailTakenError, UserNotFoundError } from "../../services/users/errors";
import {
	createUserStore,
	MemoryUserStore,
	RedisUserStore,
	type NewUser,
	type UserStore
} from "../../services/users/store";
import { uniqueNamespace } from "../support/node-process";
import { deleteKeys } from "../support/redis-server";

const redisUrl = process.env.TEST_REDIS_URL as string;
const broker = new ServiceBroker({ logger: false });
const logger = broker.getLogger("test");

function newUser(overrides: Partial<NewUser> = {}): NewUser {
	const id = randomUUID();
	return {
		id,
		email: `u-${id.slice(0, 8)}@example.com`,
		name: `User ${id.slice(0, 4)}`,
		role: "user",
		passwordHash: "scrypt$hash",
		createdAt: new Date().toISOString(),
		...overrides
	};
}

interface Subject {
	store: UserStore;
	cleanup(): Promise<void>;
}

const makers: [string, () => Promise<Subject>][] = [
	["memory", async () => ({ store: new MemoryUserStore(), cleanup: async () => undefined })],
	[
		"redis",
		async () => {
			const prefix = `${uniqueNamespace("store")}:`;
			const store = new RedisUserStore(redisUrl, prefix, logger);
			return {
				store,
				async cleanup() {
					await store.close();
					await deleteKeys(redisUrl, prefix);
				}
			};
		}
	]
];

describe.each(makers)("UserStore contract (%s)", (_kind, make) => {
	let subject: Subject;
	let store: UserStore;

	beforeEach(async () => {
		subject = await make();
		store = subject.store;
	});
	afterEach(() => subject.cleanup());

	it("creates a user and reads it back by id and by email", async () => {
		const input = newUser();
		const created = await store.create(input);
		expect(created).toEqual({
			id: input.id,
			email: input.email,
			name: input.name,
			role: "user",
			passwordHash: input.passwordHash,
			createdAt: input.createdAt,
			updatedAt: input.createdAt,
			tokenVersion: 0
		});
		expect(await store.get(input.id)).toEqual(created);
		expect(await store.findByEmail(input.email)).toEqual(created);
		expect(await store.count()).toBe(1);
	});

	it("answers null for an unknown id or email", async () => {
		expect(await store.get(randomUUID())).toBeNull();
		expect(await store.findByEmail("nobody@example.com")).toBeNull();
	});

	it("refuses a second user with the same email and keeps the first", async () => {
		const first = await store.create(newUser({ email: "same@example.com" }));
		await expect(store.create(newUser({ email: "same@example.com" }))).rejects.toBeInstanceOf(EmailTakenError);
		expect(await store.count()).toBe(1);
		expect(await store.findByEmail("same@example.com")).toEqual(first);
	});

	it("lets exactly one of many concurrent creates with one email win", async () => {
		const results = await Promise.allSettled(
			Array.from({ length: 30 }, () => store.create(newUser({ email: "race@example.com" })))
		);
		expect(results.filter(r => r.status === "fulfilled")).toHaveLength(1);
		const rejected = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
		expect(rejected.every(r => r.reason instanceof EmailTakenError)).toBe(true);
		expect(await store.count()).toBe(1);
	});

	it("updates fields, moves the email index and bumps tokenVersion on a new password", async () => {
		const user = await store.create(newUser({ email: "old@example.com", name: "Old" }));
		const updated = await store.update(user.id, {
			email: "new@example.com",
			name: "New Name",
			role: "admin",
			passwordHash: "scrypt$other",
			updatedAt: "2030-01-01T00:00:00.000Z"
		});
		expect(updated).toMatchObject({
			id: user.id,
			email: "new@example.com",
			name: "New Name",
			role: "admin",
			passwordHash: "scrypt$other",
			tokenVersion: 1,
			createdAt: user.createdAt,
			updatedAt: "2030-01-01T00:00:00.000Z"
		});
		expect(await store.findByEmail("old@example.com")).toBeNull();
		expect((await store.findByEmail("new@example.com"))?.id).toBe(user.id);
		// The old email is free again.
		await expect(store.create(newUser({ email: "old@example.com" }))).resolves.toBeDefined();
	});

	it("refuses to take another user's email on update and changes nothing", async () => {
		const a = await store.create(newUser({ email: "a@example.com" }));
		const b = await store.create(newUser({ email: "b@example.com", name: "Bee" }));
		await expect(
			store.update(b.id, { email: "a@example.com", name: "Changed", updatedAt: new Date().toISOString() })
		).rejects.toBeInstanceOf(EmailTakenError);
		expect(await store.get(b.id)).toEqual(b);
		expect(await store.get(a.id)).toEqual(a);
	});

	it("throws UserNotFoundError when updating an unknown id", async () => {
		await expect(
			store.update(randomUUID(), { name: "X", updatedAt: new Date().toISOString() })
		).rejects.toBeInstanceOf(UserNotFoundError);
	});

	it("removes a user with its indexes", async () => {
		const user = await store.create(newUser({ email: "gone@example.com", name: "Gone" }));
		expect(await store.remove(user.id)).toBe(true);
		expect(await store.remove(user.id)).toBe(false);
		expect(await store.get(user.id)).toBeNull();
		expect(await store.findByEmail("gone@example.com")).toBeNull();
		expect(await store.count()).toBe(0);
		expect(await store.list({ offset: 0, limit: 10, prefix: "gone" })).toEqual({ rows: [], total: 0 });
	});

	it("pages in creation order", async () => {
		const ids: string[] = [];
		for (let i = 0; i < 7; i++) ids.push((await store.create(newUser())).id);
		const page2 = await store.list({ offset: 3, limit: 3 });
		expect(page2.total).toBe(7);
		expect(page2.rows.map(u => u.id)).toEqual(ids.slice(3, 6));
		const last = await store.list({ offset: 6, limit: 3 });
		expect(last.rows.map(u => u.id)).toEqual(ids.slice(6));
		expect((await store.list({ offset: 30, limit: 3 })).rows).toEqual([]);
	});

	it("searches by case-insensitive prefix of email or name, each user once", async () => {
		const alice = await store.create(newUser({ email: "alice@example.com", name: "Alice Martin" }));
		const albert = await store.create(newUser({ email: "bert@example.com", name: "ALbert" }));
		const both = await store.create(newUser({ email: "alfa@example.com", name: "Alfa" }));
		await store.create(newUser({ email: "zoe@example.com", name: "Zoé" }));
		const found = await store.list({ offset: 0, limit: 10, prefix: "al" });
		expect(found.total).toBe(3);
		expect(found.rows.map(u => u.id)).toEqual([alice.id, albert.id, both.id]);
		expect((await store.list({ offset: 1, limit: 1, prefix: "al" })).rows.map(u => u.id)).toEqual([albert.id]);
		expect((await store.list({ offset: 0, limit: 10, prefix: "zo" })).total).toBe(1);
		expect((await store.list({ offset: 0, limit: 10, prefix: "[(*\\" })).total).toBe(0);
	});

	it("keeps the name index in step with renames", async () => {
		const user = await store.create(newUser({ name: "Charlie" }));
		await store.update(user.id, { name: "Delta", updatedAt: new Date().toISOString() });
		expect((await store.list({ offset: 0, limit: 10, prefix: "charlie" })).total).toBe(0);
		expect((await store.list({ offset: 0, limit: 10, prefix: "delta" })).rows.map(u => u.id)).toEqual([user.id]);
	});

	it.each([
		["in creation order", undefined],
		["of a search", "pg-"]
	])("reads a page %s that agrees with its total while users are removed", async (_what, prefix) => {
		const ids: string[] = [];
		for (let i = 0; i < 40; i++) {
			ids.push((await store.create(newUser({ email: `pg-${i}-${randomUUID()}@example.com` }))).id);
		}
		const limit = 8;
		const removing = (async () => {
			for (const id of ids) await store.remove(id);
		})();
		let done = false;
		void removing.then(() => (done = true));
		let reads = 0;
		// Bounded: at most 2 000 reads, and it stops once every user is gone.
		while (!done && reads < 2000) {
			for (const offset of [0, 8, 32]) {
				const page = await store.list({ offset, limit, prefix });
				reads++;
				expect(page.rows).toHaveLength(Math.max(0, Math.min(limit, page.total - offset)));
				const order = page.rows.map(u => ids.indexOf(u.id));
				expect(order).toEqual([...order].sort((a, b) => a - b));
			}
		}
		await removing;
		expect(reads).toBeGreaterThan(0);
		expect(await store.list({ offset: 0, limit, prefix })).toEqual({ rows: [], total: 0 });
	});

	it("answers ping with a latency", async () => {
		expect(await store.ping()).toBeGreaterThanOrEqual(0);
	});
});

describe("createUserStore", () => {
	it("refuses an in-memory store on a clustered node", () => {
		expect(() => createUserStore({ keyPrefix: "x:", clustered: true, logger })).toThrow(/REDIS_URL/);
	});

	it("picks Redis when a URL is given and memory otherwise", async () => {
		const redis = createUserStore({ redisUrl, keyPrefix: `${uniqueNamespace("f")}:`, clustered: true, logger });
		expect(redis.kind).toBe("redis");
		await redis.close();
		expect(createUserStore({ keyPrefix: "x:", clustered: false, logger }).kind).toBe("memory");
	});

	it("refuses a URL that is not Redis rather than fall back to memory", () => {
		expect(() =>
			createUserStore({ redisUrl: "memory://local", keyPrefix: "x:", clustered: false, logger })
		).toThrow(/Not a Redis URL/);
	});
});
