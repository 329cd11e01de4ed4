import type { AddressInfo, Server } from "node:net";
import { ServiceBroker, type BrokerOptions, type Service } from "moleculer";
import ApiService from "../../services/api.service";
import UsersService from "../../services/users.service";
import { http, uniqueNamespace } from "./node-process";
import { deleteKeys } from "./redis-server";

export interface Gateway {
	broker: ServiceBroker;
	baseUrl: string;
	keyPrefix: string;
	/** Deletes this gateway's Redis keys and stops the broker. */
	close(): Promise<void>;
}

export interface GatewayOptions {
	/** Run a users service beside the gateway (default true). */
	users?: boolean;
	/** Redis of the users store (default: the suite's private Redis). */
	redisUrl?: string;
	broker?: BrokerOptions;
	/** Bootstrap admin of the users service. */
	admin?: { email: string; password: string };
	/** Overrides of the api service settings. */
	api?: Record<string, unknown>;
}

/** An in-process gateway on a free port with a users service on real Redis. */
export async function startGateway(opts: GatewayOptions = {}): Promise<Gateway> {
	const namespace = uniqueNamespace("gw");
	const keyPrefix = `${namespace}:`;
	const redisUrl = opts.redisUrl ?? (process.env.TEST_REDIS_URL as string);
	const broker = new ServiceBroker({ namespace, logger: false, cacher: "MemoryLRU", ...opts.broker });
	broker.createService({
		...ApiService,
		settings: { ...ApiService.settings, port: 0, ip: "127.0.0.1", ...opts.api }
	});
	if (opts.users !== false) {
		broker.createService({
			...UsersService,
			settings: { ...UsersService.settings, redisUrl, keyPrefix, admin: opts.admin }
		});
	}
	await broker.start();
	const api = broker.getLocalService("api") as Service & { server: Server };
	const { port } = api.server.address() as AddressInfo;
	return {
		broker,
		baseUrl: `http://127.0.0.1:${port}`,
		keyPrefix,
		async close() {
			await broker.stop();
			await deleteKeys(redisUrl, keyPrefix);
		}
	};
}

/** Signs in and returns the bearer token (fails the test on a non-200). */
export async function login(baseUrl: string, email: string, password: string): Promise<string> {
	const res = await http<{ token: string }>(`${baseUrl}/auth/login`, { method: "POST", json: { email, password } });
	if (res.status !== 200) throw new Error(`login ${email} -> ${res.status} ${res.text}`);
	return res.body.token;
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
