import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createConnection } from "node:net";
import path from "node:path";
import { parseArgs } from "node:util";
import { freePort, startRedisServer, waitFor, type RedisServer } from "../test/support/redis-server";
import { startBalancer, type Balancer } from "./balancer";

/**
 * `npm run cluster -- --users 3 --gateways 2`: the docker-compose topology
 * with real node processes, for machines without Docker. Every node is
 * `node dist/src/main.js` with the environment compose gives it; a round-robin
 * TCP balancer owns the public gateway port (3001) as nginx does in compose.
 * Redis is `REDIS_URL` when set, else a private `redis-server` (AOF on) that
 * this command starts and removes. Ctrl-C / SIGTERM stops everything
 * gracefully (nodes get SIGTERM, as `docker-compose stop` does).
 */

const MAIN = path.resolve(__dirname, "..", "src", "main.js");
const STOP_GRACE_MS = 30_000;

interface NodeSpec {
	name: string;
	services: string;
	env: Record<string, string>;
}

interface RunningNode extends NodeSpec {
	child: ChildProcess;
	restarts: number;
}

function usage(): never {
	console.log(`Usage: npm run cluster -- [options]

  --users N       users nodes (rncp-user-service), default 1
  --gateways N    api gateway nodes (rncp-api-gateway), default 1
  --no-www        do not start the PWA node (rncp-pwa-front)
  --port P        balancer port in front of the gateways, default 3001
  --www-port P    PWA port, default 3000
  --namespace NS  Moleculer namespace, default rncp
  --quiet         do not print the nodes' log lines

Environment: REDIS_URL (else a private redis-server is started), JWT_SECRET
(else a random one for this run), ADMIN_EMAIL / ADMIN_PASSWORD, LOGLEVEL,
and any other variable of the README, passed to every node.`);
	process.exit(0);
}

function integer(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
	if (value === undefined) return fallback;
	const n = Number(value);
	if (!Number.isInteger(n) || n < min || n > max) {
		console.error(`--${name} must be an integer between ${min} and ${max}`);
		process.exit(2);
	}
	return n;
}

function portAnswers(port: number): Promise<boolean> {
	return new Promise(resolve => {
		const socket = createConnection({ port, host: "127.0.0.1" });
		socket.once("connect", () => {
			socket.destroy();
			resolve(true);
		});
		socket.once("error", () => resolve(false));
	});
}

async function main(): Promise<void> {
	const { values } = parseArgs({
		options: {
			users: { type: "string" },
			gateways: { type: "string" },
			"no-www": { type: "boolean", default: false },
			port: { type: "string" },
			"www-port": { type: "string" },
			namespace: { type: "string" },
			quiet: { type: "boolean", default: false },
			help: { type: "boolean", short: "h", default: false }
		}
	});
	if (values.help) usage();
	const users = integer(values.users, "users", 1, 0, 32);
	const gateways = integer(values.gateways, "gateways", 1, 1, 32);
	const port = integer(values.port, "port", 3001, 0, 65535);
	const wwwPort = integer(values["www-port"], "www-port", 3000, 0, 65535);
	const namespace = values.namespace ?? process.env.NAMESPACE ?? "rncp";

	let stopping = false;
	let redis: RedisServer | undefined;
	let redisUrl = process.env.REDIS_URL;
	if (!redisUrl) {
		// AOF on, as the compose file runs it.
		redis = await startRedisServer({ appendOnly: true }).catch((err: Error) => {
			console.error(`${err.message}; set REDIS_URL`);
			return process.exit(1);
		});
		redisUrl = redis.url;
	}
	const jwtSecret = process.env.JWT_SECRET ?? randomBytes(32).toString("base64url");

	// The environment of every compose service (docker-compose.yml, x-node-env).
	const common: Record<string, string> = {
		...(process.env as Record<string, string>),
		NODE_ENV: process.env.NODE_ENV ?? "production",
		REDIS_URL: redisUrl,
		NAMESPACE: namespace,
		JWT_SECRET: jwtSecret,
		// The PWA's origin, also when --www-port moves it.
		CORS_ORIGINS: process.env.CORS_ORIGINS ?? `http://localhost:${wwwPort},http://127.0.0.1:${wwwPort}`
	};

	const specs: NodeSpec[] = [];
	for (let i = 1; i <= users; i++) {
		specs.push({ name: `rncp-user-service-${i}`, services: "users", env: {} });
	}
	const gatewayPorts: number[] = [];
	for (let i = 1; i <= gateways; i++) {
		const gatewayPort = await freePort();
		gatewayPorts.push(gatewayPort);
		specs.push({ name: `rncp-api-gateway-${i}`, services: "api", env: { PORT: String(gatewayPort) } });
	}
	if (!values["no-www"]) {
		specs.push({
			name: "rncp-pwa-front-1",
			services: "www",
			env: { WWW_PORT: String(wwwPort), API_URL: process.env.API_URL ?? `http://localhost:${port}` }
		});
	}

	const nodes: RunningNode[] = [];

	function launch(spec: NodeSpec, restarts = 0): RunningNode {
		const child = spawn(process.execPath, [MAIN], {
			env: { ...common, ...spec.env, SERVICES: spec.services, NODEID: spec.name },
			stdio: ["ignore", "pipe", "pipe"]
		});
		const node: RunningNode = { ...spec, child, restarts };
		for (const stream of [child.stdout, child.stderr]) {
			let partial = "";
			stream?.on("data", (chunk: Buffer) => {
				if (values.quiet) return;
				const lines = (partial + chunk.toString()).split("\n");
				partial = lines.pop() ?? "";
				for (const line of lines) console.log(`${spec.name} | ${line}`);
			});
		}
		child.once("exit", (code, signal) => {
			if (stopping) return;
			console.log(`${spec.name} exited (${signal ?? `code ${code}`})`);
			// restart: on-failure, as in the compose file
			if (code !== 0 && restarts < 5) {
				setTimeout(
					() => {
						if (stopping) return;
						const again = launch(spec, restarts + 1);
						nodes[nodes.indexOf(node)] = again;
					},
					1000 * (restarts + 1)
				);
			}
		});
		return node;
	}

	for (const spec of specs) nodes.push(launch(spec));

	let balancer: Balancer | undefined;
	async function shutdown(signal: string): Promise<void> {
		if (stopping) return;
		stopping = true;
		console.log(`\n${signal}: stopping the cluster (SIGTERM to every node)...`);
		await balancer?.close();
		const order = ["api", "www", "users"];
		for (const services of order) {
			const group = nodes.filter(n => n.services === services && n.child.exitCode === null);
			await Promise.all(
				group.map(
					n =>
						new Promise<void>(resolve => {
							const timer = setTimeout(() => n.child.kill("SIGKILL"), STOP_GRACE_MS);
							n.child.once("exit", () => {
								clearTimeout(timer);
								resolve();
							});
							n.child.kill("SIGTERM");
						})
				)
			);
		}
		await redis?.destroy();
		console.log("Cluster stopped.");
		process.exit(0);
	}
	process.on("SIGINT", () => void shutdown("SIGINT"));
	process.on("SIGTERM", () => void shutdown("SIGTERM"));

	try {
		await waitFor(async () => (await Promise.all(gatewayPorts.map(portAnswers))).every(Boolean), {
			timeoutMs: 60_000,
			what: "the gateways"
		});
		balancer = await startBalancer({
			port,
			host: "127.0.0.1",
			backends: gatewayPorts.map(p => ({ host: "127.0.0.1", port: p })),
			health: { path: "/health", intervalMs: 250 }
		});
	} catch (err) {
		console.error((err as Error).message);
		await shutdown("error");
		return;
	}

	console.log(
		[
			"",
			`RNCP cluster "${namespace}" is up:`,
			`  redis                ${redisUrl}${redis ? " (private, AOF on)" : ""}`,
			`  load balancer        http://localhost:${balancer.port}  ->  ${gatewayPorts.map(p => `:${p}`).join(", ")}`,
			...nodes.map(
				n =>
					`  ${n.name.padEnd(20)} SERVICES=${n.services}${n.env.PORT ? ` PORT=${n.env.PORT}` : ""}${n.env.WWW_PORT ? ` WWW_PORT=${n.env.WWW_PORT}` : ""}  pid ${n.child.pid}`
			),
			process.env.JWT_SECRET ? "" : "  JWT_SECRET           random for this run (tokens die with the cluster)",
			"Ctrl-C stops everything.",
			""
		].join("\n")
	);
}

main().catch(err => {
	console.error(err);
	process.exit(1);
});
