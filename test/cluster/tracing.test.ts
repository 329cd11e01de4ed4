import { createHash, randomBytes, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { freePort, waitFor } from "../support/redis-server";
import { http, startNode, uniqueNamespace, waitForHealthy, type NodeProcess } from "../support/node-process";

/** A Zipkin v2 span as Moleculer's exporter posts it. */
interface ZipkinSpan {
	traceId: string;
	id: string;
	parentId: string | null;
	name: string;
	localEndpoint: { serviceName: string | null };
	tags: Record<string, string>;
}

/** A local Zipkin collector: keeps every body posted to /api/v2/spans. */
function startSink(): Promise<{ server: Server; url: string; bodies: string[]; spans: ZipkinSpan[] }> {
	const bodies: string[] = [];
	const spans: ZipkinSpan[] = [];
	const server = createServer((req, res) => {
		let body = "";
		req.on("data", chunk => (body += chunk));
		req.on("end", () => {
			if (req.method === "POST" && req.url === "/api/v2/spans") {
				bodies.push(body);
				spans.push(...(JSON.parse(body) as ZipkinSpan[]));
				res.writeHead(202).end();
			} else {
				res.writeHead(404).end();
			}
		});
	});
	return new Promise(resolve =>
		server.listen(0, "127.0.0.1", () => {
			const { port } = server.address() as AddressInfo;
			resolve({ server, url: `http://127.0.0.1:${port}`, bodies, spans });
		})
	);
}

describe("traces across a gateway and a users node (TRACING_URL)", () => {
	const namespace = uniqueNamespace("tracing");
	const gatewayID = `${namespace}-gw`;
	const usersID = `${namespace}-users`;
	const email = `trace-${randomBytes(4).toString("hex")}@example.test`;
	const password = `pw-${randomBytes(12).toString("hex")}`;
	let sink: Awaited<ReturnType<typeof startSink>>;
	let gateway: NodeProcess;
	let users: NodeProcess;
	let url: string;

	beforeAll(async () => {
		sink = await startSink();
		const env = { REDIS_URL: process.env.TEST_REDIS_URL, NAMESPACE: namespace, TRACING_URL: sink.url };
		const port = await freePort();
		url = `http://127.0.0.1:${port}`;
		users = startNode({ services: "users", nodeID: usersID, env });
		gateway = startNode({ services: "api", nodeID: gatewayID, env: { ...env, PORT: String(port) } });
		await waitForHealthy(url, 1);
	});

	afterAll(async () => {
		await Promise.all([gateway, users].map(n => n?.stop()));
		await new Promise(resolve => sink?.server.close(resolve));
	});

	/** The spans of one trace once both nodes have sent theirs (`count` spans in all). */
	function traceOf(traceId: string, count: number): Promise<ZipkinSpan[]> {
		return waitFor(
			() => {
				const spans = sink.spans.filter(s => s.traceId === traceId);
				return spans.length >= count ? spans : false;
			},
			{ timeoutMs: 15_000, what: `${count} spans of trace ${traceId}` }
		);
	}

	function spanOf(spans: ZipkinSpan[], action: string): ZipkinSpan {
		const found = spans.filter(s => s.tags["action.name"] === action);
		expect(found).toHaveLength(1);
		return found[0];
	}

	it("gives a sign-up one trace whose ID is the generated request ID, with a users span under the gateway's", async () => {
		const res = await http(`${url}/users`, { method: "POST", json: { email, name: "Trace Test", password } });
		expect(res.status).toBe(201);
		const requestID = res.headers.get("x-request-id") as string;
		expect(requestID).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

		const spans = await traceOf(requestID.replace(/-/g, ""), 2);
		expect(spans).toHaveLength(2);
		const root = spanOf(spans, "api.rest");
		const register = spanOf(spans, "users.register");
		expect(root).toMatchObject({
			name: "POST /users",
			localEndpoint: { serviceName: "api" },
			tags: { nodeID: gatewayID, requestID }
		});
		expect(root.parentId ?? null).toBeNull();
		expect(register).toMatchObject({
			parentId: root.id,
			localEndpoint: { serviceName: "users" },
			tags: { nodeID: usersID, callerNodeID: gatewayID, remoteCall: "true", requestID }
		});
	});

	it("keeps a client's hex X-Request-ID as the trace ID and links each call to the span that made it", async () => {
		const login = await http<{ token: string }>(`${url}/auth/login`, {
			method: "POST",
			json: { email, password }
		});
		expect(login.status).toBe(200);
		const requestID = randomUUID().replace(/-/g, "");
		const me = await http(`${url}/auth/me`, {
			headers: { authorization: `Bearer ${login.body.token}`, "x-request-id": requestID }
		});
		expect(me.status).toBe(200);
		expect(me.headers.get("x-request-id")).toBe(requestID);

		// api.rest → users.authState (authentication) and api.me → users.get.
		const spans = await traceOf(requestID, 4);
		expect(spans).toHaveLength(4);
		const root = spanOf(spans, "api.rest");
		const authState = spanOf(spans, "users.authState");
		const apiMe = spanOf(spans, "api.me");
		const get = spanOf(spans, "users.get");
		expect(root.tags.nodeID).toBe(gatewayID);
		expect(authState).toMatchObject({ parentId: root.id, tags: { nodeID: usersID } });
		expect(apiMe).toMatchObject({ parentId: root.id, tags: { nodeID: gatewayID } });
		expect(get).toMatchObject({ parentId: apiMe.id, tags: { nodeID: usersID, "params.id": expect.any(String) } });
	});

	it("derives the trace ID from a request ID Zipkin cannot carry, and keeps the original as a tag", async () => {
		const requestID = "checkout:42.retry_1";
		const res = await http(`${url}/users`, {
			method: "POST",
			headers: { "x-request-id": requestID },
			// Too short: the users node rejects it, and the error must not carry the rejected value.
			json: { email: `short-${email}`, name: "Trace Test", password: "short" }
		});
		expect(res.status).toBe(422);
		expect(res.headers.get("x-request-id")).toBe(requestID);

		const traceId = createHash("sha256").update(requestID).digest("hex").slice(0, 32);
		const spans = await traceOf(traceId, 2);
		const register = spanOf(spans, "users.register");
		expect(register).toMatchObject({
			parentId: spanOf(spans, "api.rest").id,
			tags: { requestID, "error.type": "VALIDATION_ERROR", "error.code": "422" }
		});
	});

	it("never sends a password, a token or a password hash to the collector", async () => {
		const everything = sink.bodies.join("\n");
		expect(everything).not.toContain(password);
		expect(everything).not.toContain('"short"');
		expect(everything).not.toMatch(/password/i);
		expect(everything).not.toMatch(/scrypt\$/);
		expect(everything).not.toMatch(/token/i);
		expect(everything).not.toMatch(/eyJ[A-Za-z0-9_-]+\./); // a JWT
	});
});
