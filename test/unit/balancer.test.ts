import { createServer, request, type Server } from "node:http";
import { startBalancer, type Balancer } from "../../scripts/balancer";
import { waitFor } from "../support/redis-server";

/** A backend answering its name, and /health with `health()`. */
function backend(name: string, health: () => number): Promise<{ server: Server; port: number }> {
	const server = createServer((req, res) => {
		res.statusCode = req.url === "/health" ? health() : 200;
		res.end(name);
	});
	return new Promise(resolve =>
		server.listen(0, "127.0.0.1", () => {
			const address = server.address();
			resolve({ server, port: typeof address === "object" && address ? address.port : 0 });
		})
	);
}

/** One request on a fresh connection: the balancer picks a backend per connection. */
function get(port: number, path = "/"): Promise<string> {
	return new Promise((resolve, reject) => {
		const req = request({ host: "127.0.0.1", port, path, agent: false }, res => {
			let body = "";
			res.on("data", chunk => (body += chunk));
			res.on("end", () => resolve(body));
		});
		req.on("error", reject);
		req.end();
	});
}

const close = (server: Server) => new Promise(resolve => server.close(resolve));

describe("round-robin TCP balancer (npm run cluster)", () => {
	const servers: Server[] = [];
	let balancer: Balancer | undefined;

	afterEach(async () => {
		await balancer?.close();
		await Promise.all(
			servers
				.splice(0)
				.filter(s => s.listening)
				.map(close)
		);
	});

	it("spreads connections over the backends in turn", async () => {
		const a = await backend("a", () => 200);
		const b = await backend("b", () => 200);
		servers.push(a.server, b.server);
		balancer = await startBalancer({ port: 0, backends: [a, b].map(x => ({ host: "127.0.0.1", port: x.port })) });
		const answers = [];
		for (let i = 0; i < 4; i++) answers.push(await get(balancer.port));
		expect(answers.sort()).toEqual(["a", "a", "b", "b"]);
	});

	it("skips a backend that refuses connections, so no request fails", async () => {
		const a = await backend("a", () => 200);
		const b = await backend("b", () => 200);
		servers.push(a.server, b.server);
		balancer = await startBalancer({ port: 0, backends: [a, b].map(x => ({ host: "127.0.0.1", port: x.port })) });
		await close(a.server);
		const answers = [];
		for (let i = 0; i < 4; i++) answers.push(await get(balancer.port));
		expect(answers).toEqual(["b", "b", "b", "b"]);
	});

	it("sends no new connection to a backend whose /health fails, unless none is healthy", async () => {
		let bHealth = 503;
		const a = await backend("a", () => 200);
		const b = await backend("b", () => bHealth);
		servers.push(a.server, b.server);
		balancer = await startBalancer({
			port: 0,
			backends: [a, b].map(x => ({ host: "127.0.0.1", port: x.port })),
			health: { path: "/health", intervalMs: 20 }
		});
		await waitFor(
			async () => {
				const answers = [];
				for (let i = 0; i < 4; i++) answers.push(await get(balancer!.port));
				return answers.every(x => x === "a");
			},
			{ what: "b out of the rotation" }
		);
		bHealth = 200;
		await waitFor(async () => (await get(balancer!.port)) === "b" || (await get(balancer!.port)) === "b", {
			what: "b back in the rotation"
		});
	});
});
