import { Errors, type Middleware } from "moleculer";
import brokerConfig from "../../moleculer.config";
import { GatewayRetryMiddleware } from "../../services/api/retry";
import { bearer, login, startGateway, type Gateway } from "../support/gateway";
import { http } from "../support/node-process";

/**
 * Counts the runs of each action and fails `users.get` with a retryable error
 * while `failures` is positive: what a users node gone mid-call looks like.
 */
function faultyUsersGet() {
	const runs = new Map<string, number>();
	const state = { failures: 0 };
	const middleware: Middleware = {
		name: "CountRuns",
		localAction(next, action) {
			const name = action.name as string;
			return function countRuns(this: unknown, ctx) {
				runs.set(name, (runs.get(name) ?? 0) + 1);
				if (name === "users.get" && state.failures > 0) {
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
