import { request, type Server } from "node:http";
import { ServiceBroker, type Service } from "moleculer";
import ApiGateway from "moleculer-web";
import { drainOnStop, isDraining } from "../../services/api/drain";
import { waitFor } from "../support/redis-server";

interface Answer {
	status: number;
	connection?: string;
	body: string;
}

function get(port: number, path: string): Promise<Answer> {
	return new Promise((resolve, reject) => {
		const req = request({ host: "127.0.0.1", port, path, agent: false }, res => {
			let body = "";
			res.on("data", chunk => (body += chunk));
			res.on("end", () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body }));
		});
		req.on("error", reject);
		req.end();
	});
}

describe("gateway drain on stop (services/api/drain.ts)", () => {
	it("answers health as draining, refuses new connections, finishes the request in flight", async () => {
		let release!: () => void;
		const slowStarted = new Promise<void>(resolve => (release = resolve));
		const broker = new ServiceBroker({
			logger: false,
			tracking: { enabled: true, shutdownTimeout: 5000 },
			registry: { stopDelay: 0 }
		});
		broker.createService({
			name: "gw",
			mixins: [ApiGateway],
			settings: {
				port: 0,
				ip: "127.0.0.1",
				routes: [{ path: "/", aliases: { "GET /slow": "gw.slow", "GET /draining": "gw.draining" } }]
			},
			actions: {
				async slow() {
					release();
					await new Promise(r => setTimeout(r, 800));
					return { done: true };
				},
				draining(this: Service) {
					return { draining: isDraining(this) };
				}
			},
			started(this: Service) {
				drainOnStop(this, (this as Service & { server: Server }).server, {
					timeoutMs: 3000,
					readinessGraceMs: 300
				});
			}
		});
		await broker.start();
		const service = broker.getLocalService("gw")!;
		const address = (service as Service & { server: Server }).server.address();
		const port = typeof address === "object" && address ? address.port : 0;

		expect(await get(port, "/draining")).toMatchObject({ status: 200, body: '{"draining":false}' });
		const inFlight = get(port, "/slow");
		await slowStarted;
		const stopped = broker.stop();

		// During the readiness grace: still accepted, answered, told to close.
		const duringGrace = await waitFor(
			async () => {
				const res = await get(port, "/draining");
				return res.body === '{"draining":true}' ? res : false;
			},
			{ what: "draining health" }
		);
		expect(duringGrace.connection).toBe("close");

		// After it: the listener is closed.
		await waitFor(
			() =>
				get(port, "/draining").then(
					() => false,
					(err: NodeJS.ErrnoException) => err.code === "ECONNREFUSED"
				),
			{
				what: "refused connections"
			}
		);

		expect(await inFlight).toEqual({ status: 200, connection: "close", body: '{"done":true}' });
		await stopped;
	});
});
