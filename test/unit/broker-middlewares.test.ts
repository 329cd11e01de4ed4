import { Errors, ServiceBroker, type BrokerOptions, type Context } from "moleculer";
import { MIDDLEWARES } from "../../moleculer.config";
import UsersService from "../../services/users.service";
import { cacheKey } from "../../src/cache-key";
import { rejection } from "../support/redis-server";

/** The cacher and middleware chain of every node (moleculer.config.ts), without the rest. */
const nodeOptions: BrokerOptions = {
	logger: false,
	cacher: { type: "MemoryLRU", options: { ttl: 60, max: 100, keygen: cacheKey } },
	internalMiddlewares: false,
	middlewares: MIDDLEWARES
};

describe("cacheKey", () => {
	const action = { name: "users.list" };
	const key = (params: Record<string, unknown>, keys?: string[]) =>
		cacheKey(action, keys ? { keys } : {}, { params, meta: {} } as unknown as Context);

	it("gives different keys to values that the default keygen joins alike", () => {
		const keys = ["page", "pageSize", "q"];
		// Moleculer's default: `"1"|20|"x"|"y"` for both.
		expect(key({ page: "1", pageSize: 20, q: 'x"|"y' }, keys)).not.toBe(
			key({ page: '1"|20', pageSize: "x", q: "y" }, keys)
		);
		expect(key({ page: 1 }, ["page"])).not.toBe(key({ page: "1" }, ["page"]));
	});

	it("gives one key to the same params in any order when the action lists no keys", () => {
		expect(key({ a: 1, b: "2" })).toBe(key({ b: "2", a: 1 }));
		expect(key({ a: 1, b: "2" })).toMatch(/^users\.list:[A-Za-z0-9_-]{43}$/);
	});
});

describe("users.list behind the node's cacher", () => {
	let broker: ServiceBroker;

	beforeAll(async () => {
		broker = new ServiceBroker(nodeOptions);
		broker.createService({ ...UsersService, settings: { ...UsersService.settings, redisUrl: undefined } });
		await broker.start();
	});
	afterAll(() => broker.stop());

	it("validates params before reading the cache", async () => {
		for (let i = 0; i < 2; i++) {
			expect(await broker.call("users.list", { page: "1", pageSize: "20", q: 'x"|"y' })).toMatchObject({
				total: 0
			});
		}
		const err = await rejection(broker.call("users.list", { page: '1"|"20', pageSize: "x", q: "y" }));
		expect(err).toBeInstanceOf(Errors.ValidationError);
		const strict = await rejection(broker.call("users.list", { page: "1", pageSize: "20", q: 'x"|"y', role: "a" }));
		expect(strict).toBeInstanceOf(Errors.ValidationError);
	});
});

describe("a remote call that times out", () => {
	let caller: ServiceBroker;
	let callee: ServiceBroker;
	let release: () => void = () => undefined;

	beforeAll(async () => {
		const transit: BrokerOptions = { transporter: "Fake", namespace: `abandon-${process.pid}` };
		caller = new ServiceBroker({ ...nodeOptions, ...transit, nodeID: "caller", tracking: { enabled: true } });
		// No Timeout on the callee: it stands for a node too busy to answer in time
		// (its own timeout answer would otherwise settle the call on the caller).
		callee = new ServiceBroker({ logger: false, ...transit, nodeID: "callee", internalMiddlewares: false });
		callee.createService({
			name: "slow",
			actions: {
				/** Answers once the test releases it. */
				wait: () => new Promise<string>(resolve => (release = () => resolve("late"))),
				fast: () => "ok"
			}
		});
		await Promise.all([caller.start(), callee.start()]);
		await caller.waitForServices("slow");
	});
	afterAll(async () => {
		release();
		await Promise.all([caller.stop(), callee.stop()]);
	});

	it("leaves no tracked context behind once it has failed", async () => {
		const tracked = () => (caller as unknown as { _trackedContexts: unknown[] })._trackedContexts;
		expect(await caller.call("slow.fast")).toBe("ok");
		const err = await rejection(caller.call("slow.wait", {}, { timeout: 50, retries: 0 }));
		expect(err).toBeInstanceOf(Errors.RequestTimeoutError);
		expect(tracked()).toEqual([]);
		release();
		expect(await caller.call("slow.fast")).toBe("ok");
		expect(tracked()).toEqual([]);
	});
});
