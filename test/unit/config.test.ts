import { ConfigError, loadConfig } from "../../src/config";

describe("loadConfig", () => {
	it("defaults to the embedded mode: all services, no transporter, in-memory data", () => {
		const config = loadConfig({});
		expect(config).toMatchObject({
			services: ["api", "users", "www"],
			transporter: undefined,
			redisUrl: undefined,
			namespace: "rncp",
			redisKeyPrefix: "rncp:",
			port: 3001,
			wwwPort: 3000,
			logFormat: "pretty",
			corsOrigins: ["http://localhost:3000"],
			apiUrl: "http://localhost:3001"
		});
	});

	it("uses REDIS_URL as transporter unless TRANSPORTER is set", () => {
		expect(loadConfig({ REDIS_URL: "redis://r:6379" }).transporter).toBe("redis://r:6379");
		expect(loadConfig({ REDIS_URL: "redis://r:6379", TRANSPORTER: "nats://n:4222" }).transporter).toBe("nats://n:4222");
	});

	it("logs JSON in production by default", () => {
		expect(loadConfig({ NODE_ENV: "production" }).logFormat).toBe("json");
	});

	it.each([
		[{ SERVICES: "api,billing" }, /unknown service/],
		[{ PORT: "http" }, /PORT must be an integer/],
		[{ PORT: "70000" }, /PORT must be an integer/],
		[{ LOGLEVEL: "loud" }, /LOGLEVEL/],
		[{ LOG_FORMAT: "xml" }, /LOG_FORMAT/],
		[{ REDIS_URL: "localhost:6379" }, /REDIS_URL/],
		[{ SERVED_BY_HEADER: "maybe" }, /SERVED_BY_HEADER/]
	])("rejects %p with a clear message", (env, message) => {
		expect(() => loadConfig(env)).toThrow(ConfigError);
		expect(() => loadConfig(env)).toThrow(message);
	});
});
