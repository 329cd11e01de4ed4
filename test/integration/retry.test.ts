import { Errors, ServiceBroker, type BrokerOptions, type Context, type Middleware } from "moleculer";
import brokerConfig from "../../moleculer.config";
import { GatewayRetryMiddleware } from "../../services/api/retry";
import { bearer, login, startGateway, type Gateway } from "../support/gateway";
import { http } from "../support/node-process";
import { waitFor } from "../support/redis-server";

/**
 * Counts the runs of each action and fails `state.action` (`users.get`) with a
 * retryable error while `failures` is positive: what a users node gone
 * mid-call looks like.
 */
function faultyUsersGet() {
	const runs = new Map<string, number>();
	const state = { failures: 0, action: "users.get" };
	const middleware: Middleware = {
		name: "CountRuns",
		localAction(next, action) {
			const name = action.name as string;
			return function countRuns(this: unknown, ctx) {
				runs.set(name, (runs.get(name) ?? 0) + 1);
				if (name === state.action && state.failures > 0) {
					state.failures--;
					return Promise.reject(
						new Errors.MoleculerRetryableError("node gone", 503, "SERVICE_NOT_AVAILABLE")
					);
				}
				return next.call(this as never, ctx);
			};
		}
	};
	return { runs, state, middleware };
}

describe("retries: only the call inside a request, never the request", () => {
	let gw: Gateway;
	let token: string;
	let adminId: string;
	const fault = faultyUsersGet();

	beforeAll(async () => {
		gw = await startGateway({
			admin: { email: "retry@example.com", password: "retry password" },
			broker: {
				// No read cache: every request reaches users.get.
				cacher: undefined,
				retryPolicy: { ...brokerConfig.retryPolicy, delay: 1 },
				middlewares: [GatewayRetryMiddleware, fault.middleware]
			}
		});
		token = await login(gw.baseUrl, "retry@example.com", "retry password");
		const me = await http<{ id: string }>(`${gw.baseUrl}/auth/me`, { headers: bearer(token) });
		adminId = me.body.id;
	});
	afterAll(() => gw.close());

	beforeEach(() => fault.runs.clear());

	// The gateway holds the caller's auth state since the login above: users.authState is not called.
	it("re-runs users.get once after one retryable failure; the request (api.rest) runs once", async () => {
		fault.state.failures = 1;
		const res = await http<{ id: string }>(`${gw.baseUrl}/users/${adminId}`, { headers: bearer(token) });
		expect(res.status).toBe(200);
		expect(res.body.id).toBe(adminId);
		expect(Object.fromEntries(fault.runs)).toEqual({ "api.rest": 1, "users.get": 2 });
	});

	it("gives up after the policy's retries of the inner call alone (1 + 2 runs, not 3 × 3)", async () => {
		fault.state.failures = 100;
		const res = await http(`${gw.baseUrl}/users/${adminId}`, { headers: bearer(token) });
		fault.state.failures = 0;
		expect(res.status).toBe(503);
		expect(Object.fromEntries(fault.runs)).toEqual({ "api.rest": 1, "users.get": 3 });
	});

	it("GET /health asks users.health once: 503 at the first failure, a probe is not retried", async () => {
		Object.assign(fault.state, { action: "users.health", failures: 100 });
		const res = await http<{ status: string; checks: { users: { status: string } } }>(`${gw.baseUrl}/health`);
		Object.assign(fault.state, { action: "users.get", failures: 0 });
		expect(res.status).toBe(503);
		expect(res.body).toMatchObject({ status: "down", checks: { users: { status: "down" } } });
		expect(Object.fromEntries(fault.runs)).toEqual({ "api.rest": 1, "api.health": 1, "users.health": 1 });
	});

	it("a gateway action calling users (GET /auth/me → api.me → users.get) is not retried either", async () => {
		fault.state.failures = 100;
		const res = await http(`${gw.baseUrl}/auth/me`, { headers: bearer(token) });
		fault.state.failures = 0;
		expect(res.status).toBe(503);
		expect(Object.fromEntries(fault.runs)).toEqual({
			"api.rest": 1,
			"api.me": 1,
			"users.get": 3
		});
	});
});

describe("a retried call goes to another node than the one that failed it", () => {
	/**
	 * A caller and three nodes of `where` over the Fake transporter, with the
	 * project's retry policy (delays shortened) and the given strategy; `u2`
	 * fails every call with a retryable error, as a node that died unseen does
	 * until its heartbeats time out. Records which node each attempt reached.
	 */
	async function cluster(strategy: NonNullable<BrokerOptions["registry"]>["strategy"]) {
		const namespace = `retry-strategy-${Math.random().toString(36).slice(2)}`;
		const attempts = new Map<string, string[]>();
		const options = (nodeID: string): BrokerOptions => ({
			namespace,
			nodeID,
			logger: false,
			transporter: "Fake",
			registry: { ...brokerConfig.registry, strategy },
			retryPolicy: { ...brokerConfig.retryPolicy, delay: 5, maxDelay: 10 }
		});
		const caller = new ServiceBroker(options("caller"));
		const nodes = ["u1", "u2", "u3"].map(nodeID => {
			const broker = new ServiceBroker(options(nodeID));
			broker.createService({
				name: "where",
				actions: {
					get(ctx: Context) {
						attempts.set(ctx.requestID as string, [
							...(attempts.get(ctx.requestID as string) ?? []),
							nodeID
						]);
						if (nodeID === "u2")
							throw new Errors.MoleculerRetryableError("node gone", 503, "SERVICE_NOT_AVAILABLE");
						return nodeID;
					}
				}
			});
			return broker;
		});
		await Promise.all([caller, ...nodes].map(b => b.start()));
		await caller.waitForServices({ name: "where" }, 5000);
		await waitFor(() => caller.registry.getActionEndpoints("where.get")?.count() === 3, { what: "3 endpoints" });
		return { caller, attempts, stop: () => Promise.all([caller, ...nodes].map(b => b.stop())) };
	}

	/** 60 concurrent calls: their first attempts spread over the three nodes, the retries all at once. */
	async function load(caller: ServiceBroker) {
		return Promise.allSettled(
			Array.from({ length: 60 }, (_, i) => caller.call("where.get", {}, { requestID: `call-${i}` }))
		);
	}

	it("with the project's strategy: every call answered, none sent to the failing node twice", async () => {
		const { caller, attempts, stop } = await cluster(brokerConfig.registry?.strategy);
		try {
			const results = await load(caller);
			expect(results.filter(r => r.status === "rejected")).toEqual([]);
			const twice = [...attempts].filter(([, nodes]) => nodes.filter(n => n === "u2").length > 1);
			expect(twice).toEqual([]);
			// Balanced as before: the first attempts went to every node.
			expect(new Set([...attempts.values()].map(nodes => nodes[0]))).toEqual(new Set(["u1", "u2", "u3"]));
		} finally {
			await stop();
		}
	});

	it("(control) with Moleculer's plain RoundRobin some retries go back to the failing node", async () => {
		const { caller, attempts, stop } = await cluster("RoundRobin");
		try {
			await load(caller);
			const twice = [...attempts].filter(([, nodes]) => nodes.filter(n => n === "u2").length > 1);
			expect(twice.length).toBeGreaterThan(0);
		} finally {
			await stop();
		}
	});
});
