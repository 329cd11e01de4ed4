import { freePort, waitFor } from "../support/redis-server";
import {
	awayFromWindowEdge,
	http,
	startNode,
	uniqueNamespace,
	waitForHealthy,
	type NodeProcess
} from "../support/node-process";

const redisUrl = () => process.env.TEST_REDIS_URL as string;
const WINDOW_MS = 60_000;

describe("rate limits shared by two gateway processes through Redis", () => {
	const namespace = uniqueNamespace("ratelimit");
	let gateways: { node: NodeProcess; url: string }[];
	let users: NodeProcess;

	beforeAll(async () => {
		const env = {
			REDIS_URL: redisUrl(),
			NAMESPACE: namespace,
			RATE_LIMIT_MAX: "10",
			LOGIN_RATE_LIMIT_MAX: "3",
			RATE_LIMIT_WINDOW_MS: String(WINDOW_MS)
		};
		users = startNode({ services: "users", nodeID: `${namespace}-u1`, env });
		gateways = await Promise.all(
			["gw1", "gw2"].map(async id => {
				const port = await freePort();
				return {
					node: startNode({
						services: "api",
						nodeID: `${namespace}-${id}`,
						env: { ...env, PORT: String(port) }
					}),
					url: `http://127.0.0.1:${port}`
				};
			})
		);
		for (const gw of gateways) {
			// /health is not rate limited.
			await waitForHealthy(gw.url, 1);
		}
		await awayFromWindowEdge(WINDOW_MS);
	});

	afterAll(() => Promise.all([users, ...gateways.map(g => g.node)].map(n => n.stop())));

	it("allows RATE_LIMIT_MAX requests in total across both gateways, then 429 with Retry-After", async () => {
		const statuses: number[] = [];
		let lastLimited: Awaited<ReturnType<typeof http>> | undefined;
		for (let i = 0; i < 30; i++) {
			const gw = gateways[i % 2];
			// A forged X-Forwarded-For from an untrusted client must not buy a new budget.
			const res = await http(`${gw.url}/users`, { headers: { "x-forwarded-for": `10.0.0.${i}` } });
			statuses.push(res.status);
			if (res.status === 429) lastLimited = res;
		}
		expect(statuses.filter(s => s !== 429)).toHaveLength(10);
		expect(statuses.slice(0, 10).every(s => s === 401)).toBe(true); // counted before authentication
		expect(statuses.slice(10).every(s => s === 429)).toBe(true);
		expect(lastLimited?.body).toEqual({
			name: "RateLimitExceeded",
			message: "Rate limit exceeded",
			code: 429,
			type: "RATE_LIMITED"
		});
		const retryAfter = Number(lastLimited?.headers.get("retry-after"));
		expect(retryAfter).toBeGreaterThanOrEqual(1);
		expect(retryAfter).toBeLessThanOrEqual(WINDOW_MS / 1000);
		expect(lastLimited?.headers.get("x-rate-limit-remaining")).toBe("0");
	});

	it("limits POST /auth/login more strictly (LOGIN_RATE_LIMIT_MAX) across both gateways", async () => {
		const statuses: number[] = [];
		for (let i = 0; i < 8; i++) {
			const res = await http(`${gateways[i % 2].url}/auth/login`, {
				method: "POST",
				json: { email: "brute@example.com", password: `guess-${i}` }
			});
			statuses.push(res.status);
		}
		expect(statuses.slice(0, 3)).toEqual([401, 401, 401]);
		expect(statuses.slice(3).every(s => s === 429)).toBe(true);
	});
});

describe("log redaction across processes", () => {
	const namespace = uniqueNamespace("redact");
	const PASSWORD = "Sup3r-Secret-Pa55-phrase";
	let gateway: NodeProcess;
	let users: NodeProcess;
	let url: string;

	beforeAll(async () => {
		const port = await freePort();
		url = `http://127.0.0.1:${port}`;
		const env = { REDIS_URL: redisUrl(), NAMESPACE: namespace, LOGLEVEL: "trace", LOG_FORMAT: "json" };
		users = startNode({ services: "users", nodeID: `${namespace}-u1`, env });
		gateway = startNode({ services: "api", nodeID: `${namespace}-gw`, env: { ...env, PORT: String(port) } });
		await waitForHealthy(url, 1);
	});
	afterAll(() => Promise.all([gateway, users].map(n => n.stop())));

	it("leaves no trace of a known password or token in any log line, at trace level", async () => {
		const email = `redact-${namespace}@example.com`;
		expect(
			(await http(`${url}/users`, { method: "POST", json: { email, name: "Redact", password: PASSWORD } })).status
		).toBe(201);
		const login = await http<{ token: string }>(`${url}/auth/login`, {
			method: "POST",
			json: { email, password: PASSWORD }
		});
		expect(login.status).toBe(200);
		const token = login.body.token;
		const me = await http(`${url}/auth/me`, {
			headers: { authorization: `Bearer ${token}`, "x-request-id": "redaction-check-1" }
		});
		expect(me.status).toBe(200);
		// A failing validation that echoes values, and a wrong password.
		await http(`${url}/users`, { method: "POST", json: { email, name: "R", password: "short" } });
		await http(`${url}/auth/login`, { method: "POST", json: { email, password: `${PASSWORD}-wrong` } });

		await waitFor(() => gateway.output().includes("redaction-check-1"), { what: "the access log line" });
		const logs = gateway.output() + users.output();
		expect(logs).not.toContain(PASSWORD);
		expect(logs).not.toContain(token);
		expect(logs).not.toContain(token.split(".")[2]);
		expect(logs).not.toMatch(/Bearer [A-Za-z0-9]/);
		expect(logs).not.toContain('"short"');

		// Structured JSON lines with nodeID, service and, for requests, the requestID.
		const lines = logs
			.split("\n")
			.filter(l => l.startsWith("{"))
			.map(l => JSON.parse(l));
		expect(lines.length).toBeGreaterThan(20);
		const access = lines.find(l => l.event === "access" && l.requestID === "redaction-check-1");
		expect(access).toMatchObject({
			level: "info",
			nodeID: `${namespace}-gw`,
			service: "api",
			method: "GET",
			path: "/auth/me",
			status: 200
		});
		expect(typeof access.durationMs).toBe("number");
		expect(lines.some(l => l.nodeID === `${namespace}-u1` && l.service === "users")).toBe(true);
	});
});
