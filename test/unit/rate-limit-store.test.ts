import { Redis } from "ioredis";
import { ServiceBroker } from "moleculer";
import { RateLimitBudgets, type RateLimitStore } from "../../services/api/rate-limit-store";
import { uniqueNamespace } from "../support/node-process";
import { deleteKeys, waitFor } from "../support/redis-server";

type Factory = new (windowMs: number, settings: object, broker: ServiceBroker) => RateLimitStore;

const WINDOW_MS = 60_000;

/** What moleculer-web does for each route with a `rateLimit`. */
function routeStore(budgets: RateLimitBudgets, name: string, broker: ServiceBroker): RateLimitStore {
	return new (budgets.storeFactory(name) as Factory)(WINDOW_MS, {}, broker);
}

describe("rate-limit budgets: one store per budget and gateway", () => {
	const brokers: ServiceBroker[] = [];
	const broker = (nodeID: string) => {
		const b = new ServiceBroker({ nodeID, logger: false });
		brokers.push(b);
		return b;
	};
	afterAll(() => Promise.all(brokers.map(b => b.stop())));

	it("in memory: routes of one budget share one count; another budget counts apart; gateways apart", async () => {
		const gw = broker(uniqueNamespace("mem"));
		const budgets = new RateLimitBudgets({ keyPrefix: "x:" });
		const [publicRoute, authenticated, admin] = [1, 2, 3].map(() => routeStore(budgets, "global", gw));
		const login = routeStore(budgets, "login", gw);
		const counts = [
			publicRoute.inc("1.2.3.4"),
			authenticated.inc("1.2.3.4"),
			admin.inc("1.2.3.4"),
			login.inc("1.2.3.4")
		];
		expect(await Promise.all(counts)).toEqual([1, 2, 3, 1]);
		expect(publicRoute.resetTime % WINDOW_MS).toBe(0);
		const otherGateway = new RateLimitBudgets({ keyPrefix: "x:" });
		expect(await routeStore(otherGateway, "global", broker(uniqueNamespace("mem"))).inc("1.2.3.4")).toBe(1);
		budgets.close();
		otherGateway.close();
	});

	it("in Redis: one connection per gateway for every route and budget, one count per budget", async () => {
		const url = process.env.TEST_REDIS_URL as string;
		const keyPrefix = `${uniqueNamespace("rl")}:`;
		const nodeID = uniqueNamespace("gw");
		const gw = broker(nodeID);
		const budgets = new RateLimitBudgets({ url, keyPrefix });
		const stores = ["global", "global", "global", "login"].map(name => routeStore(budgets, name, gw));
		const admin = new Redis(url);
		try {
			// Until its connection is up a store lets requests through uncounted (0).
			await waitFor(async () => (await stores[0].inc("probe")) > 0, { what: "the rate-limit connection" });
			expect(await Promise.all(stores.map(s => s.inc("5.6.7.8")))).toEqual([1, 2, 3, 1]);
			const connections = async () =>
				((await admin.client("LIST")) as string)
					.split("\n")
					.filter(l => l.includes(`name=rate-limit-${nodeID} `));
			expect(await connections()).toHaveLength(1);
			budgets.close();
			// Closing twice (the gateway stops once, but nothing forbids more) is harmless.
			budgets.close();
			await waitFor(async () => (await connections()).length === 0, { what: "the connection closed" });
		} finally {
			budgets.close();
			admin.disconnect();
			await deleteKeys(url, keyPrefix);
		}
	});
});
