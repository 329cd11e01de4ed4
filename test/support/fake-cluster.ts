import type { AddressInfo, Server } from "node:net";
import { ServiceBroker, type BrokerOptions, type Middleware, type Service } from "moleculer";
import brokerConfig from "../../moleculer.config";
import ApiService from "../../services/api.service";
import UsersService from "../../services/users.service";
import { uniqueNamespace } from "./node-process";
import { deleteKeys, waitFor } from "./redis-server";

/**
 * The fast tier of what crosses nodes: a gateway broker and several users
 * brokers in this process, with the node options of moleculer.config.ts
 * (middlewares, cacher, retries, balancing) over Moleculer's Fake transporter,
 * as Moleculer's own test/integration helpers do. The users store is the real
 * Redis of the suite under a key prefix of its own. Real processes
 * (test/cluster) remain for what only they can prove: signals, kills, restarts.
 */
export interface FakeCluster {
	namespace: string;
	keyPrefix: string;
	baseUrl: string;
	gateway: ServiceBroker;
	users: ServiceBroker[];
	/** Stops every broker and deletes this cluster's Redis keys. */
	close(): Promise<void>;
}

export interface FakeClusterOptions {
	/** Number of users brokers (default 2). */
	users?: number;
	/** Extra middlewares of users broker `i` (innermost first). */
	usersMiddlewares?: (i: number) => Middleware[];
	admin?: { email: string; password: string };
}

function nodeOptions(namespace: string, nodeID: string, extra: Middleware[] = []): BrokerOptions {
	return {
		...brokerConfig,
		namespace,
		nodeID,
		logger: false,
		metrics: false,
		transporter: "Fake",
		middlewares: [...extra, ...(brokerConfig.middlewares ?? [])]
	};
}

export async function startFakeCluster(opts: FakeClusterOptions = {}): Promise<FakeCluster> {
	const namespace = uniqueNamespace("fake");
	const keyPrefix = `${namespace}:`;
	const redisUrl = process.env.TEST_REDIS_URL as string;
	const gateway = new ServiceBroker(nodeOptions(namespace, `${namespace}-gw`));
	gateway.createService({
		...ApiService,
		settings: { ...ApiService.settings, port: 0, ip: "127.0.0.1" }
	});
	const users = Array.from({ length: opts.users ?? 2 }, (_, i) => {
		const broker = new ServiceBroker(nodeOptions(namespace, `${namespace}-u${i + 1}`, opts.usersMiddlewares?.(i)));
		broker.createService({
			...UsersService,
			settings: { ...UsersService.settings, redisUrl, keyPrefix, admin: opts.admin }
		});
		return broker;
	});
	await Promise.all(users.map(b => b.start()));
	await gateway.start();
	await waitForInstances(gateway, users.length);
	const api = gateway.getLocalService("api") as Service & { server: Server };
	const { port } = api.server.address() as AddressInfo;
	return {
		namespace,
		keyPrefix,
		baseUrl: `http://127.0.0.1:${port}`,
		gateway,
		users,
		async close() {
			await gateway.stop();
			await Promise.all(users.map(b => b.stop()));
			await deleteKeys(redisUrl, keyPrefix);
		}
	};
}

/** Resolves once the gateway's registry lists `n` available users nodes. */
function waitForInstances(gateway: ServiceBroker, n: number): Promise<true> {
	return waitFor(
		() =>
			gateway.registry.getServiceList({ onlyAvailable: true, skipInternal: true }).filter(s => s.name === "users")
				.length >= n,
		{ timeoutMs: 10_000, intervalMs: 10, what: `the gateway to see ${n} users nodes` }
	);
}
