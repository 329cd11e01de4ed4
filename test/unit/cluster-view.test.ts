import type { AddressInfo, Server } from "node:net";
import { ServiceBroker, type Service } from "moleculer";
import ApiService from "../../services/api.service";
import type { ClusterView } from "../../services/api/cluster";
import UsersService from "../../services/users.service";
import { http } from "../support/node-process";

describe("api.cluster (GET /cluster), one embedded node", () => {
	let broker: ServiceBroker;
	let baseUrl: string;

	beforeAll(async () => {
		broker = new ServiceBroker({ logger: false, nodeID: "solo" });
		broker.createService({ ...ApiService, settings: { ...ApiService.settings, port: 0, ip: "127.0.0.1" } });
		broker.createService({ ...UsersService, settings: { ...UsersService.settings, redisUrl: undefined } });
		await broker.start();
		const { port } = (
			broker.getLocalService("api") as Service & { server: Server }
		).server.address() as AddressInfo;
		baseUrl = `http://127.0.0.1:${port}`;
	});
	afterAll(() => broker.stop());

	it("lists the node with its services, load and memory", async () => {
		const res = await http<ClusterView>(`${baseUrl}/cluster`, {
			headers: { Authorization: `Bearer ${await adminToken()}` }
		});
		expect(res.status).toBe(200);
		expect(res.body).toEqual({
			nodeID: "solo",
			time: expect.any(String),
			nodes: [
				{
					id: "solo",
					hostname: expect.any(String),
					local: true,
					available: true,
					services: ["api", "users"],
					cpu: expect.any(Number),
					memory: {
						rss: expect.any(Number),
						heapUsed: expect.any(Number),
						hostUsedPercent: expect.any(Number)
					},
					uptime: expect.any(Number),
					client: { version: expect.any(String), langVersion: process.version },
					requests: expect.any(Number)
				}
			],
			requests: { total: expect.any(Number), byNode: expect.any(Object), gateways: 1 }
		});
	});

	it("counts each users request under the node that served it", async () => {
		const token = await adminToken();
		const before = (
			await http<ClusterView>(`${baseUrl}/cluster`, { headers: { Authorization: `Bearer ${token}` } })
		).body.requests;
		for (let i = 0; i < 3; i++) await http(`${baseUrl}/users/health`);
		const after = (await http<ClusterView>(`${baseUrl}/cluster`, { headers: { Authorization: `Bearer ${token}` } }))
			.body;
		expect(after.requests.total - before.total).toBe(3);
		expect((after.requests.byNode.solo ?? 0) - (before.byNode.solo ?? 0)).toBe(3);
		expect(after.nodes[0].requests).toBe(after.requests.byNode.solo);
	});

	let token: string | undefined;
	/** A bearer token of an admin created through the internal `users.create`. */
	async function adminToken(): Promise<string> {
		if (!token) {
			const admin = { email: "root@example.test", name: "Root", password: "root-password", role: "admin" };
			await broker.call("users.create", admin);
			const res = await http<{ token: string }>(`${baseUrl}/auth/login`, {
				method: "POST",
				json: { email: admin.email, password: admin.password }
			});
			token = res.body.token;
		}
		return token;
	}

	it("is refused without a token (401) and to a plain user (403)", async () => {
		expect((await http(`${baseUrl}/cluster`)).status).toBe(401);
		const plain = { email: "plain@example.test", name: "Plain", password: "plain-password" };
		await http(`${baseUrl}/users`, { method: "POST", json: plain });
		const login = await http<{ token: string }>(`${baseUrl}/auth/login`, {
			method: "POST",
			json: { email: plain.email, password: plain.password }
		});
		const res = await http(`${baseUrl}/cluster`, { headers: { Authorization: `Bearer ${login.body.token}` } });
		expect(res.status).toBe(403);
		expect(res.body).toEqual({
			name: "ForbiddenError",
			message: "Only an admin may use this route",
			code: 403,
			type: "ADMIN_REQUIRED"
		});
	});
});
