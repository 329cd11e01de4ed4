import { randomUUID } from "node:crypto";
import { ServiceBroker } from "moleculer";
import {
	MemoryIdempotencyStore,
	RedisIdempotencyStore,
	type DoneRecord,
	type IdempotencyStore
} from "../../services/api/idempotency-store";
import { uniqueNamespace } from "../support/node-process";
import { deleteKeys, waitFor } from "../support/redis-server";

const redisUrl = process.env.TEST_REDIS_URL as string;
const broker = new ServiceBroker({ logger: false });
const logger = broker.getLogger("test");

interface Subject {
	store: IdempotencyStore;
	cleanup(): Promise<void>;
}

const makers: [string, () => Promise<Subject>][] = [
	["memory", async () => ({ store: new MemoryIdempotencyStore(), cleanup: async () => undefined })],
	[
		"redis",
		async () => {
			const prefix = `${uniqueNamespace("idem")}:`;
			const store = new RedisIdempotencyStore(redisUrl, prefix, logger);
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

const answer = (fingerprint: string): DoneRecord => ({
	state: "done",
	fingerprint,
	status: 201,
	body: '{"id":"1"}',
	contentType: "application/json; charset=utf-8",
	location: "/users/1"
});

describe.each(makers)("IdempotencyStore contract: %s", (_kind, make) => {
	let subject: Subject;
	beforeAll(async () => {
		subject = await make();
	});
	afterAll(() => subject.cleanup());

	it("gives a fresh key to the first claim only; others see it pending", async () => {
		const key = randomUUID();
		const first = await subject.store.claim(key, "fp", 10_000);
		const second = await subject.store.claim(key, "fp", 10_000);
		expect(first.claimed).toBe(true);
		expect(second).toEqual({ claimed: false, record: { state: "pending", fingerprint: "fp" } });
	});

	it("lets exactly one of many concurrent claims win", async () => {
		const key = randomUUID();
		const claims = await Promise.all(Array.from({ length: 20 }, () => subject.store.claim(key, "fp", 10_000)));
		expect(claims.filter(c => c.claimed)).toHaveLength(1);
	});

	it("keeps the answer completed by the claim holder, and shows it to later claims", async () => {
		const key = randomUUID();
		const claim = await subject.store.claim(key, "fp", 10_000);
		if (!claim.claimed) throw new Error("not claimed");
		expect(await subject.store.complete(key, claim.token, answer("fp"), 60)).toBe(true);
		expect(await subject.store.claim(key, "fp", 10_000)).toEqual({ claimed: false, record: answer("fp") });
	});

	it("refuses to complete or release with another token", async () => {
		const key = randomUUID();
		const claim = await subject.store.claim(key, "fp", 10_000);
		if (!claim.claimed) throw new Error("not claimed");
		expect(await subject.store.complete(key, "not-the-token", answer("fp"), 60)).toBe(false);
		await subject.store.release(key, "not-the-token");
		expect((await subject.store.claim(key, "fp", 10_000)).claimed).toBe(false);
	});

	it("frees a released key for the next claim", async () => {
		const key = randomUUID();
		const claim = await subject.store.claim(key, "fp", 10_000);
		if (!claim.claimed) throw new Error("not claimed");
		await subject.store.release(key, claim.token);
		expect((await subject.store.claim(key, "fp", 10_000)).claimed).toBe(true);
	});

	it("frees a claim whose lock expired (a gateway died holding it)", async () => {
		const key = randomUUID();
		expect((await subject.store.claim(key, "fp", 50)).claimed).toBe(true);
		const next = await waitFor(
			async () => {
				const claim = await subject.store.claim(key, "fp", 10_000);
				return claim.claimed ? claim : false;
			},
			{ timeoutMs: 5_000, intervalMs: 10, what: "the expired claim to be free" }
		);
		expect(next).toEqual({ claimed: true, token: expect.any(String) });
	});
});
