import { hostname } from "node:os";
import { Redis } from "ioredis";
import { loadConfig, type AppConfig } from "../src/config";
import { redisOptionsFromUrl } from "../src/redis";

/**
 * The container healthcheck of every node (Dockerfile HEALTHCHECK and
 * docker-compose): exit 0 when this node does its job, 1 otherwise.
 *
 * - gateway (`api`): its own `GET /health` answers 200 (users reachable, not draining);
 * - PWA (`www`): its own `GET /config.json` answers 200;
 * - users only: the node has no HTTP port, so the check listens on the
 *   transporter for this node's heartbeat (sent every 2 s): it proves the
 *   process runs and is connected to the cluster. Redis transporter only.
 */

const HTTP_TIMEOUT_MS = 4000;
/** Two heartbeat intervals (moleculer.config.ts) and a margin. */
const HEARTBEAT_WAIT_MS = 5000;

async function httpOk(url: string): Promise<boolean> {
	const res = await fetch(url, { signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
	await res.arrayBuffer();
	return res.ok;
}

/** Moleculer's default nodeID is `<hostname>-<pid>`: one node process per container. */
function isThisNode(sender: string, config: AppConfig): boolean {
	return config.nodeID ? sender === config.nodeID : sender.startsWith(`${hostname().toLowerCase()}-`);
}

async function heartbeatSeen(config: AppConfig): Promise<boolean> {
	const url = config.transporter;
	if (!url || !/^rediss?:\/\//.test(url)) throw new Error("the users healthcheck needs the Redis transporter");
	const topic = `MOL${config.namespace ? `-${config.namespace}` : ""}.HEARTBEAT`;
	const client = new Redis({
		...redisOptionsFromUrl(url),
		lazyConnect: true,
		maxRetriesPerRequest: 0,
		retryStrategy: () => null
	});
	client.on("error", () => undefined);
	try {
		await client.connect();
		return await new Promise<boolean>(resolve => {
			const timer = setTimeout(() => resolve(false), HEARTBEAT_WAIT_MS);
			client.on("message", (_channel: string, message: string) => {
				try {
					if (isThisNode(String((JSON.parse(message) as { sender?: unknown }).sender), config)) {
						clearTimeout(timer);
						resolve(true);
					}
				} catch {
					// Not a JSON packet: another serializer; keep listening until the deadline.
				}
			});
			client.subscribe(topic).catch(() => resolve(false));
		});
	} finally {
		client.disconnect();
	}
}

async function check(config: AppConfig): Promise<boolean> {
	if (config.services.includes("api")) return httpOk(`http://127.0.0.1:${config.port}/health`);
	if (config.services.includes("www")) return httpOk(`http://127.0.0.1:${config.wwwPort}/config.json`);
	return heartbeatSeen(config);
}

check(loadConfig())
	.then(ok => process.exit(ok ? 0 : 1))
	.catch((err: unknown) => {
		console.error(`unhealthy: ${(err as Error).message}`);
		process.exit(1);
	});
