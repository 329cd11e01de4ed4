import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ALL_SERVICES, ConfigError, DEV_JWT_SECRET, loadConfig } from "../../src/config";

describe("loadConfig", () => {
	it("defaults to the embedded mode: all services, no transporter, in-memory data", () => {
		const config = loadConfig({});
		// The seed's three, and any added since by `npm run new:service`.
		expect(ALL_SERVICES.slice(0, 3)).toEqual(["api", "users", "www"]);
		expect(config).toMatchObject({
			services: [...ALL_SERVICES],
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
		expect(loadConfig({ REDIS_URL: "redis://r:6379", TRANSPORTER: "nats://n:4222" }).transporter).toBe(
			"nats://n:4222"
		);
	});

	it("logs JSON in production by default", () => {
		expect(loadConfig({ NODE_ENV: "production", JWT_SECRET: "s".repeat(40) }).logFormat).toBe("json");
	});

	it("refuses to run a gateway in production without a strong JWT secret", () => {
		for (const secret of [undefined, "short", DEV_JWT_SECRET]) {
			expect(() => loadConfig({ NODE_ENV: "production", JWT_SECRET: secret })).toThrow(/JWT_SECRET/);
		}
		// A users-only node signs nothing.
		expect(() => loadConfig({ NODE_ENV: "production", SERVICES: "users" })).not.toThrow();
	});

	it("reads the secret from JWT_SECRET_FILE when JWT_SECRET is unset (the compose setup)", () => {
		const dir = mkdtempSync(path.join(tmpdir(), "rncp-secret-"));
		const file = path.join(dir, "jwt");
		execFileSync(process.execPath, [path.join(__dirname, "..", "..", "dist", "scripts", "init-secret.js"), file]);
		const secret = readFileSync(file, "utf8");
		expect(secret.length).toBeGreaterThanOrEqual(64);
		expect(loadConfig({ NODE_ENV: "production", JWT_SECRET_FILE: file }).jwt.secret).toBe(secret);
		// A second run keeps the secret: every restart signs with the same one.
		execFileSync(process.execPath, [path.join(__dirname, "..", "..", "dist", "scripts", "init-secret.js"), file]);
		expect(readFileSync(file, "utf8")).toBe(secret);
		expect(loadConfig({ JWT_SECRET: "s".repeat(40), JWT_SECRET_FILE: file }).jwt.secret).toBe("s".repeat(40));
		expect(() => loadConfig({ JWT_SECRET_FILE: path.join(dir, "missing") })).toThrow(/JWT_SECRET_FILE/);
		rmSync(dir, { recursive: true, force: true });
	});

	it("opens the health port only when HEALTH_PORT is set", () => {
		expect(loadConfig({}).healthPort).toBeUndefined();
		expect(loadConfig({ HEALTH_PORT: "3002" }).healthPort).toBe(3002);
		expect(() => loadConfig({ HEALTH_PORT: "http" })).toThrow(/HEALTH_PORT must be an integer/);
	});

	it("parses token lifetimes and rate limits", () => {
		const config = loadConfig({
			JWT_EXPIRES_IN: "15m",
			RATE_LIMIT_MAX: "5",
			LOGIN_RATE_LIMIT_MAX: "2",
			TRUST_PROXY: "loopback, 10.0.0.0/8"
		});
		expect(config.jwt.expiresIn).toBe(900);
		expect(config.rateLimit).toEqual({ windowMs: 60_000, max: 5, loginMax: 2 });
		expect(config.trustProxy).toEqual(["loopback", "10.0.0.0/8"]);
	});

	it("makes a --no-services node bare: no service, no metrics port, no signing secret needed", () => {
		const env = { NODE_ENV: "production", SERVICES: "api,users", METRICS_PORT: "3030", PORT: "3001" };
		const config = loadConfig(env, ["--repl", "--no-services"]);
		expect(config).toMatchObject({ bare: true, services: [], metricsPort: undefined });
		expect(loadConfig({ ...env, JWT_SECRET: "s".repeat(40) }, [])).toMatchObject({
			bare: false,
			services: ["api", "users"],
			metricsPort: 3030
		});
	});

	it.each([
		[{ SERVICES: "api,billing" }, /unknown service/],
		[{ PORT: "http" }, /PORT must be an integer/],
		[{ PORT: "70000" }, /PORT must be an integer/],
		[{ LOGLEVEL: "loud" }, /LOGLEVEL/],
		[{ LOG_FORMAT: "xml" }, /LOG_FORMAT/],
		[{ REDIS_URL: "localhost:6379" }, /REDIS_URL/],
		[{ SERVED_BY_HEADER: "maybe" }, /SERVED_BY_HEADER/],
		[{ JWT_EXPIRES_IN: "soon" }, /JWT_EXPIRES_IN/],
		[{ ADMIN_EMAIL: "a@b.c" }, /ADMIN_PASSWORD/],
		[{ TRACING_URL: "tempo:9411" }, /TRACING_URL must be an http/],
		[{ ASSET_BASE_URL: "ftp://cdn.example.com" }, /ASSET_BASE_URL must be an http/]
	])("rejects %p with a clear message", (env, message) => {
		expect(() => loadConfig(env)).toThrow(ConfigError);
		expect(() => loadConfig(env)).toThrow(message);
	});

	it("reads TRACING_URL and ASSET_BASE_URL as URLs without a trailing slash; unset or empty = off", () => {
		expect(loadConfig({})).toMatchObject({ tracingUrl: undefined, assetBaseUrl: undefined });
		expect(loadConfig({ TRACING_URL: "", ASSET_BASE_URL: " " })).toMatchObject({
			tracingUrl: undefined,
			assetBaseUrl: undefined
		});
		expect(
			loadConfig({ TRACING_URL: "http://tempo:9411/", ASSET_BASE_URL: "https://cdn.example.com/rncp/" })
		).toMatchObject({ tracingUrl: "http://tempo:9411", assetBaseUrl: "https://cdn.example.com/rncp" });
	});
});
