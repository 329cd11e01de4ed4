import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { ALL_SERVICES } from "../../src/config";

/**
 * What `docker-compose up --scale` depends on, read from the files themselves
 * (no Docker engine here): docker-compose.yml, the nginx config, the Dockerfile.
 */

const ROOT = path.resolve(__dirname, "..", "..");
const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");

interface Healthcheck {
	test?: string[] | string;
}
interface ComposeService {
	image?: string;
	build?: string | { context: string };
	command?: string[] | string;
	environment?: Record<string, string>;
	ports?: string[];
	expose?: string[];
	volumes?: string[];
	healthcheck?: Healthcheck;
	depends_on?: Record<string, { condition: string }> | string[];
	restart?: string;
	stop_grace_period?: string;
	profiles?: string[];
}
interface ComposeFile {
	services: Record<string, ComposeService>;
	volumes?: Record<string, unknown>;
}

const compose = parse(read("docker-compose.yml"), { merge: true }) as ComposeFile;
const services = compose.services;
const NODES = ["rncp-user-service", "rncp-api-gateway", "rncp-pwa-front"];
const SCALED = ["rncp-user-service", "rncp-api-gateway"];
const LB = "rncp-api-lb";

/** Seconds of a compose duration such as `30s`, `1m30s`. */
function seconds(duration: string | undefined): number {
	if (!duration) return 0;
	let total = 0;
	for (const [, n, unit] of duration.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
		total += Number(n) * { ms: 0.001, s: 1, m: 60, h: 3600 }[unit as "ms" | "s" | "m" | "h"];
	}
	return total;
}

/** Host port of a `ports` entry (`"3001:3001"`, `"127.0.0.1:3000:3000"`, `"${X:-3001}:3001"`), if it has one. */
function hostPort(entry: string): string | undefined {
	const parts = String(entry)
		.replace(/\$\{\w+:-([^}]*)\}/g, "$1")
		.split(":");
	return parts.length >= 2 ? parts[parts.length - 2] : undefined;
}

describe("docker-compose.yml", () => {
	it("has the seed's services, a load balancer and nothing unexpected outside profiles", () => {
		const always = Object.entries(services)
			.filter(([, s]) => !s.profiles)
			.map(([name]) => name)
			.sort();
		// Node kinds added by `npm run new:service`: the one image, a service of ALL_SERVICES beyond the seed's.
		const added = always.filter(name => {
			const svc = services[name];
			const kind = svc.environment?.SERVICES ?? "";
			return (
				svc.image === "rncp-api:local" &&
				!NODES.includes(name) &&
				(ALL_SERVICES as readonly string[]).includes(kind)
			);
		});
		expect(always).toEqual(
			["jwt-secret", "redis", LB, "rncp-api-gateway", "rncp-pwa-front", "rncp-user-service", ...added].sort()
		);
	});

	it.each(NODES)("builds %s from the one image, picked by SERVICES", name => {
		const svc = services[name];
		expect(svc.image).toBe("rncp-api:local");
		expect(typeof svc.build === "string" ? svc.build : svc.build?.context).toBe(".");
		expect(svc.environment?.SERVICES).toBe(
			{ "rncp-user-service": "users", "rncp-api-gateway": "api", "rncp-pwa-front": "www" }[name]
		);
	});

	it.each(NODES)("gives %s the environment of SPEC §7", name => {
		const env = services[name].environment ?? {};
		expect(env.REDIS_URL).toBe("redis://redis:6379");
		expect(env.NODE_ENV).toBe("production");
		expect(env.NAMESPACE).toBeDefined();
		// Never a secret written in the file: the environment's, or the generated one.
		expect(env.JWT_SECRET).toBe("${JWT_SECRET:-}");
	});

	it("signs tokens with a generated secret every gateway replica shares", () => {
		const init = services["jwt-secret"];
		expect(init.image).toBe("rncp-api:local");
		expect(init.command).toEqual(["node", "dist/scripts/init-secret.js", "/run/secrets/rncp/jwt"]);
		expect(init.volumes).toEqual(["jwt-secret:/run/secrets/rncp"]);
		const gateway = services["rncp-api-gateway"];
		expect(gateway.environment?.JWT_SECRET_FILE).toBe("/run/secrets/rncp/jwt");
		expect(gateway.volumes).toContain("jwt-secret:/run/secrets/rncp:ro");
		expect(gateway.depends_on).toMatchObject({ "jwt-secret": { condition: "service_completed_successfully" } });
		expect(Object.keys(compose.volumes ?? {})).toContain("jwt-secret");
	});

	it.each(SCALED)("publishes no fixed host port and sets no NODEID on the scaled %s", name => {
		const svc = services[name];
		expect((svc.ports ?? []).filter(p => hostPort(p) !== undefined)).toEqual([]);
		// Replicas must get distinct node IDs (Moleculer's default: hostname-pid).
		expect(svc.environment?.NODEID).toBeUndefined();
	});

	it("puts the load balancer in front of the gateways on host port 3001", () => {
		const lb = services[LB];
		expect(lb.image).toMatch(/^nginx:/);
		expect(lb.ports?.map(hostPort)).toEqual(["3001"]);
		expect(lb.depends_on).toEqual({ "rncp-api-gateway": { condition: "service_healthy" } });
		expect(lb.volumes).toContain("./deploy/nginx/default.conf:/etc/nginx/conf.d/default.conf:ro");
		expect(services["rncp-api-gateway"].environment?.PORT).toBe("3001");
		// The gateways believe the X-Forwarded-For of exactly the balancer (rate limits per client).
		expect(services["rncp-api-gateway"].environment?.TRUST_PROXY).toBe(LB);
	});

	it("lets nginx resolve every gateway replica at request time through Docker's DNS", () => {
		const conf = read("deploy/nginx/default.conf");
		expect(conf).toMatch(/^\s*resolver 127\.0\.0\.11\b/m);
		expect(conf).toMatch(/^\s*listen 3001;/m);
		const target = /^\s*set \$(\w+) http:\/\/rncp-api-gateway:3001;/m.exec(conf);
		expect(target).not.toBeNull();
		expect(conf).toContain(`proxy_pass $${target![1]};`);
		expect(conf).toMatch(/^\s*proxy_next_upstream error timeout;/m);
	});

	it("sets the client address from the peer nginx sees, never from the client's header", () => {
		const conf = read("deploy/nginx/default.conf");
		expect(conf).toMatch(/^\s*proxy_set_header X-Forwarded-For \$remote_addr;/m);
		expect(conf).toMatch(/^\s*proxy_set_header X-Real-IP \$remote_addr;/m);
		expect(conf).not.toContain("$proxy_add_x_forwarded_for");
	});

	it("names no volume that only the monitoring profile uses (compose 1.x would create it on every up)", () => {
		const used = Object.values(services)
			.filter(svc => !svc.profiles)
			.flatMap(svc => (svc.volumes ?? []).map(v => String(v).split(":")[0]));
		expect(Object.keys(compose.volumes ?? {}).filter(v => !used.includes(v))).toEqual([]);
	});

	it("publishes the PWA on 3000 with the gateway's public URL", () => {
		const www = services["rncp-pwa-front"];
		expect(www.ports?.map(hostPort)).toEqual(["3000"]);
		expect(www.environment?.WWW_PORT).toBe("3000");
		expect(www.environment?.API_URL).toMatch(/localhost:3001/);
	});

	it("keeps Redis on a named volume with AOF and a redis-cli healthcheck", () => {
		const redis = services.redis;
		const command = Array.isArray(redis.command) ? redis.command.join(" ") : String(redis.command);
		expect(command).toMatch(/--appendonly yes/);
		const [volume, target] = String(redis.volumes?.[0]).split(":");
		expect(target).toBe("/data");
		expect(Object.keys(compose.volumes ?? {})).toContain(volume);
		expect(redis.healthcheck?.test).toEqual(["CMD", "redis-cli", "ping"]);
		expect(redis.ports).toBeUndefined();
	});

	it.each(Object.keys(services))("gives %s a healthcheck, a restart policy and healthy dependencies", name => {
		const svc = services[name];
		expect(Array.isArray(svc.healthcheck?.test) && svc.healthcheck.test[0]).toMatch(/^CMD/);
		expect(["on-failure", "unless-stopped", "always"]).toContain(svc.restart);
		if (name !== "redis" && name !== "jwt-secret") {
			expect(Array.isArray(svc.depends_on)).toBe(false);
			const deps = Object.entries(svc.depends_on ?? {});
			expect(deps.length).toBeGreaterThan(0);
			for (const [dep, condition] of deps) {
				expect(condition).toEqual({
					condition: dep === "jwt-secret" ? "service_completed_successfully" : "service_healthy"
				});
			}
		}
	});

	it.each(NODES)("gives %s a health port, unpublished, that its healthcheck reads", name => {
		const svc = services[name];
		expect(svc.environment?.HEALTH_PORT).toBe("3002");
		expect(svc.healthcheck?.test).toEqual(["CMD", "node", "dist/scripts/healthcheck.js"]);
		expect((svc.ports ?? []).map(p => String(p).split(":").pop())).not.toContain("3002");
		expect(svc.expose ?? []).not.toContain("3002");
	});

	it.each(NODES)("gives %s a stop grace period longer than the node's drain", name => {
		const config = read("moleculer.config.ts");
		const shutdown = Number(/shutdownTimeout:\s*([\d_]+)/.exec(config)?.[1].replace(/_/g, "")) / 1000;
		const stopDelay = Number(/stopDelay:\s*([\d_]+)/.exec(config)?.[1].replace(/_/g, "")) / 1000;
		expect(shutdown).toBeGreaterThan(0);
		// stopDelay + readiness grace (1 s) + HTTP drain and in-flight contexts (≤ shutdownTimeout).
		expect(seconds(services[name].stop_grace_period)).toBeGreaterThan(stopDelay + 1 + shutdown);
	});

	const composeBinary = ["/usr/bin/docker-compose", "/usr/local/bin/docker-compose"].find(existsSync);
	(composeBinary ? it : it.skip)("passes `docker-compose config -q`", () => {
		expect(() =>
			execFileSync(composeBinary!, ["-f", "docker-compose.yml", "config", "-q"], {
				cwd: ROOT,
				env: { PATH: process.env.PATH, JWT_SECRET: "placeholder-for-config-check-only-0123456789" },
				stdio: "pipe"
			})
		).not.toThrow();
	});
});

describe("Dockerfile", () => {
	const dockerfile = read("Dockerfile");
	const stages = [...dockerfile.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gim)];

	it("builds in one stage and runs from node:24-alpine in another", () => {
		expect(stages.length).toBeGreaterThanOrEqual(2);
		expect(stages[stages.length - 1][1]).toBe("node:24-alpine");
		expect(dockerfile).toMatch(/COPY --from=\w+ \/app\/dist/);
	});

	it("installs production dependencies only, runs as node, with a healthcheck", () => {
		const runtime = dockerfile.slice(stages[stages.length - 1].index);
		expect(runtime).toMatch(/npm ci --omit=dev/);
		expect(runtime).toMatch(/^USER node$/m);
		expect(runtime).toMatch(/^HEALTHCHECK .*\\?\n?\s*CMD \["node", "dist\/scripts\/healthcheck\.js"\]/m);
		// The nodes and the PWA (vite → dist/web, served by www) come from the build stage.
		expect(runtime).toMatch(/^COPY --from=\w+ \/app\/dist \.\/dist$/m);
	});

	it("starts node in exec form, so SIGTERM reaches it", () => {
		expect(dockerfile).toMatch(/^CMD \["node", "dist\/src\/main\.js"\]$/m);
	});

	it("keeps local state and secrets out of the build context", () => {
		const ignored = read(".dockerignore").split("\n");
		for (const entry of ["node_modules", "dist", ".env", ".git"]) expect(ignored).toContain(entry);
	});
});
