import { spawn } from "node:child_process";
import type { PublicUser } from "../../services/users/types";
import { freePort, waitFor } from "../support/redis-server";
import { http, ROOT, startNode, uniqueNamespace, waitForHealthy, type NodeProcess } from "../support/node-process";

/**
 * One gateway and two users nodes as separate processes over the Redis
 * transporter, started the way the README starts them.
 */
describe("cluster: 1 gateway + 2 users nodes over Redis", () => {
	const redisUrl = process.env.TEST_REDIS_URL as string;
	const namespace = uniqueNamespace("cluster");
	const env = {
		REDIS_URL: redisUrl,
		NAMESPACE: namespace,
		ADMIN_EMAIL: "ops@example.com",
		ADMIN_PASSWORD: "ops password 1"
	};
	let baseUrl: string;
	let auth: { authorization: string };
	let gateway: NodeProcess;
	let users: NodeProcess[];

	beforeAll(async () => {
		const port = await freePort();
		baseUrl = `http://127.0.0.1:${port}`;
		gateway = startNode({ services: "api", nodeID: `${namespace}-gw`, env: { ...env, PORT: String(port) } });
		users = ["u1", "u2"].map(id => startNode({ services: "users", nodeID: `${namespace}-${id}`, env }));
		await waitForHealthy(baseUrl, 2);
		const login = await http<{ token: string }>(`${baseUrl}/auth/login`, {
			method: "POST",
			json: { email: "ops@example.com", password: "ops password 1" }
		});
		auth = { authorization: `Bearer ${login.body.token}` };
	});

	afterAll(async () => {
		await Promise.all([gateway, ...users].map(n => n.stop()));
	});

	it("spreads requests over both users nodes (X-Served-By)", async () => {
		const servedBy = new Map<string, number>();
		for (let i = 0; i < 20; i++) {
			const res = await http(`${baseUrl}/users?page=${i + 1}`, { headers: auth });
			expect(res.status).toBe(200);
			const node = res.headers.get("x-served-by") as string;
			servedBy.set(node, (servedBy.get(node) ?? 0) + 1);
		}
		expect([...servedBy.keys()].sort()).toEqual(users.map(u => u.nodeID).sort());
		for (const count of servedBy.values()) expect(count).toBeGreaterThanOrEqual(5);
	});

	it("reads through one node what was written through the other", async () => {
		const created = await http<PublicUser>(`${baseUrl}/users`, {
			method: "POST",
			json: { email: `cross-${namespace}@example.com`, name: "Cross Node", password: "password123" }
		});
		expect(created.status).toBe(201);
		const writer = created.headers.get("x-served-by");
		expect(users.map(u => u.nodeID)).toContain(writer);

		const read = await waitFor(
			async () => {
				const res = await http<PublicUser>(`${baseUrl}/users/${created.body.id}`, { headers: auth });
				return res.headers.get("x-served-by") !== writer ? res : false;
			},
			{ what: "a read served by the other node" }
		);
		expect(read.status).toBe(200);
		expect(read.body).toEqual(created.body);

		// A rename through one node is seen through the other (the shared cache was cleaned).
		const renamed = await http<PublicUser>(`${baseUrl}/users/${created.body.id}`, {
			method: "PATCH",
			headers: auth,
			json: { name: "Renamed" }
		});
		expect(renamed.status).toBe(200);
		for (let i = 0; i < 4; i++) {
			const res = await http<PublicUser>(`${baseUrl}/users/${created.body.id}`, { headers: auth });
			expect(res.body.name).toBe("Renamed");
		}
	});

	it("joins the REPL (npm run repl) to the cluster: call users.count answers the stored count", async () => {
		const count = (await http<{ total: number }>(`${baseUrl}/users`, { headers: auth })).body.total;
		expect(count).toBeGreaterThan(0);
		const repl = spawn("npm", ["run", "--silent", "repl"], {
			cwd: ROOT,
			env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env, LOGLEVEL: "warn" },
			stdio: ["pipe", "pipe", "pipe"]
		});
		let out = "";
		repl.stdout.on("data", d => (out += d));
		repl.stderr.on("data", d => (out += d));
		const exited = new Promise(resolve => repl.once("exit", resolve));
		try {
			await waitFor(() => out.includes("mol $"), { timeoutMs: 60_000, what: "the REPL prompt" });
			// Wait until the REPL node has discovered a users node.
			repl.stdin.write("services\n");
			await waitFor(() => /users\s/.test(out), { what: "users in the REPL's services" });
			out = "";
			repl.stdin.write("call users.count\n");
			// eslint-disable-next-line no-control-regex
			const plain = () => out.replace(/\u001b\[[0-9;]*m/g, "");
			await waitFor(() => /Response:\s*\n\s*\d+/.test(plain()), { what: "the users.count answer" });
			expect(plain()).toMatch(new RegExp(`Response:\\s*\\n\\s*${count}\\b`));
			repl.stdin.write("exit\n");
			await exited;
		} catch (err) {
			throw new Error(`${(err as Error).message}\nREPL output:\n${out}`);
		} finally {
			if (repl.exitCode === null) repl.kill("SIGTERM");
		}
	}, 90_000);

	it("keeps answering when one users node stops", async () => {
		const [stopped, survivor] = users;
		expect(await stopped.stop("SIGTERM")).toBe(0);
		await waitForHealthy(baseUrl, 1);
		for (let i = 0; i < 10; i++) {
			const res = await http(`${baseUrl}/users`, { headers: auth });
			expect(res.status).toBe(200);
			expect(res.headers.get("x-served-by")).toBe(survivor.nodeID);
		}
	});
});

describe("a clustered node without a Redis store", () => {
	it("refuses to start with a clear message", async () => {
		const node = startNode({
			services: "users",
			nodeID: "no-store",
			env: { TRANSPORTER: process.env.TEST_REDIS_URL, NAMESPACE: uniqueNamespace("nostore") }
		});
		expect(await node.exited).toBe(1);
		expect(node.output()).toMatch(/transporter but no REDIS_URL/);
	});
});
