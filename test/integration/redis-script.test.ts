import { Redis } from "ioredis";
import { RedisScript } from "../../src/redis-script";
import { startRedisServer, type RedisServer } from "../support/redis-server";

const ECHO = new RedisScript<[string, string]>("testEcho", 1, "return {KEYS[1], ARGV[1]}");

/** Runs on a private redis-server: it flushes that server's script cache. */
describe("RedisScript", () => {
	let server: RedisServer;
	let client: Redis;

	beforeAll(async () => {
		server = await startRedisServer();
		client = new Redis(server.url, { keyPrefix: "rs:" });
	});
	afterAll(async () => {
		await client.quit();
		await server.destroy();
	});

	it("runs with the client's key prefix on the KEYS", async () => {
		expect(await ECHO.run(client, ["k"], ["v"])).toEqual(["rs:k", "v"]);
	});

	it("still runs after Redis has forgotten the script (NOSCRIPT)", async () => {
		await ECHO.run(client, ["k"], ["1"]);
		await client.script("FLUSH");
		expect(await ECHO.run(client, ["k"], ["2"])).toEqual(["rs:k", "2"]);
	});

	it("refuses a call with the wrong number of keys before sending it", () => {
		expect(() => ECHO.run(client, [], ["v"])).toThrow("Script testEcho takes 1 key(s), got 0.");
	});
});
