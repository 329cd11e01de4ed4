import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { ServiceBroker } from "moleculer";
import { isDraining } from "../services/api/drain";
import type { UsersHealth } from "../services/users/types";

/**
 * The health port of a node (`HEALTH_PORT`): a plain `node:http` server beside
 * the broker, for container healthchecks and Kubernetes probes.
 *
 * - `GET /live`: 200 while the process runs; nothing else is checked, so a
 *   liveness probe never restarts a node because Redis or a peer is away.
 * - `GET /ready`: 200 when the node does its job — it has started and is not
 *   stopping, it has joined the cluster over its transporter (or runs
 *   embedded), its users store answers (users node), a users instance and
 *   its store answer and the gateway does not drain (gateway node). 503
 *   otherwise, with `failed` naming the checks that failed.
 * - `GET /users/health` (users node): the `users.health` action's body.
 *
 * It reads the broker's own state (`transit`, `started`), so it works with
 * any transporter. It is its own server, not a moleculer-web route: a users
 * node has no gateway, and probes never reach the access log, the rate
 * limits or the request metrics of the public API.
 */

/** A probe's whole budget is a few seconds; a call that takes longer is a failed check. */
export const CHECK_TIMEOUT_MS = 2000;

/** The paths of the health port (probes and the Dockerfile healthcheck name them). */
export const HEALTH_PATHS = { live: "/live", ready: "/ready", usersHealth: "/users/health" } as const;

export type CheckStatus = "ok" | "down";

export interface ReadyBody {
	status: CheckStatus;
	nodeID: string;
	/** Names of the checks that are `down`; empty when ready. */
	failed: string[];
	checks: {
		broker: { status: CheckStatus; state: "starting" | "running" | "stopping" };
		transporter: { status: CheckStatus; kind: string; connected: boolean };
		/** Users node: its own `users.health`. */
		users?: { status: CheckStatus; store?: UsersHealth["store"]; error?: string };
		/** Gateway node: its own `api.health` (users reachable, their store, not draining). */
		gateway?: { status: CheckStatus; draining: boolean; body?: unknown; error?: string };
	};
}

export interface LiveBody {
	status: "ok";
	nodeID: string;
	uptimeSeconds: number;
}

interface HealthState {
	everStarted: boolean;
}

function transporterCheck(broker: ServiceBroker): ReadyBody["checks"]["transporter"] {
	const transit = broker.transit;
	if (!transit) return { status: "ok", kind: "embedded", connected: true };
	const kind = transit.tx.constructor.name.replace(/Transporter$/, "") || "unknown";
	// `isReady`: the node joined (discovery done); `tx.connected`: the link is
	// up now (the Redis transporter clears it when its connection closes).
	const connected = transit.isReady && transit.connected && transit.tx.connected;
	return { status: connected ? "ok" : "down", kind, connected };
}

function message(err: unknown): string {
	return err instanceof Error ? err.message : String(err);
}

async function usersCheck(broker: ServiceBroker): Promise<NonNullable<ReadyBody["checks"]["users"]>> {
	try {
		const health = await broker.call<UsersHealth, object>(
			"users.health",
			{},
			{ nodeID: broker.nodeID, timeout: CHECK_TIMEOUT_MS, retries: 0 }
		);
		return { status: health.status, store: health.store };
	} catch (err) {
		return { status: "down", error: message(err) };
	}
}

async function gatewayCheck(broker: ServiceBroker): Promise<NonNullable<ReadyBody["checks"]["gateway"]>> {
	const api = broker.getLocalService("api");
	const draining = api ? isDraining(api) : false;
	if (draining) return { status: "down", draining };
	try {
		const body = await broker.call<{ status: CheckStatus }, object>(
			"api.health",
			{},
			{ nodeID: broker.nodeID, timeout: CHECK_TIMEOUT_MS, retries: 0 }
		);
		return { status: body.status === "ok" ? "ok" : "down", draining, body };
	} catch (err) {
		return { status: "down", draining, error: message(err) };
	}
}

/** The readiness of `broker`'s node, as `GET /ready` reports it. */
export async function readiness(broker: ServiceBroker, state: HealthState = { everStarted: true }): Promise<ReadyBody> {
	const brokerState = broker.started ? "running" : broker.stopping || state.everStarted ? "stopping" : "starting";
	const checks: ReadyBody["checks"] = {
		broker: { status: brokerState === "running" ? "ok" : "down", state: brokerState },
		transporter: transporterCheck(broker)
	};
	if (brokerState === "running") {
		const [users, gateway] = await Promise.all([
			broker.getLocalService("users") ? usersCheck(broker) : undefined,
			broker.getLocalService("api") ? gatewayCheck(broker) : undefined
		]);
		if (users) checks.users = users;
		if (gateway) checks.gateway = gateway;
	}
	const failed = Object.entries(checks)
		.filter(([, check]) => check.status !== "ok")
		.map(([name]) => name);
	return { status: failed.length ? "down" : "ok", nodeID: broker.nodeID, failed, checks };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
	const json = JSON.stringify(body);
	res.writeHead(status, {
		"Content-Type": "application/json; charset=utf-8",
		"Content-Length": Buffer.byteLength(json),
		"Cache-Control": "no-store",
		...headers
	});
	res.end(res.req.method === "HEAD" ? undefined : json);
}

async function route(broker: ServiceBroker, state: HealthState, req: IncomingMessage, res: ServerResponse) {
	const path = (req.url ?? "/").split("?")[0];
	const known = (Object.values(HEALTH_PATHS) as string[]).includes(path);
	if (!known || (path === HEALTH_PATHS.usersHealth && !broker.getLocalService("users"))) {
		return send(res, 404, { status: "down", error: "NOT_FOUND", path });
	}
	if (req.method !== "GET" && req.method !== "HEAD") {
		return send(
			res,
			405,
			{ status: "down", error: "METHOD_NOT_ALLOWED", method: req.method },
			{ Allow: "GET, HEAD" }
		);
	}
	if (path === HEALTH_PATHS.live) {
		const body: LiveBody = { status: "ok", nodeID: broker.nodeID, uptimeSeconds: Math.round(process.uptime()) };
		return send(res, 200, body);
	}
	if (path === HEALTH_PATHS.ready) {
		const body = await readiness(broker, state);
		return send(res, body.status === "ok" ? 200 : 503, body);
	}
	const users = await usersCheck(broker);
	if (users.store) {
		const body: UsersHealth = { status: users.status, nodeID: broker.nodeID, store: users.store };
		return send(res, users.status === "ok" ? 200 : 503, body);
	}
	return send(res, 503, { status: "down", nodeID: broker.nodeID, error: users.error });
}

/**
 * Opens the health port of `broker`'s node on `port` (0: any free port) and
 * resolves once it listens. Call it before `broker.start()`: `/live` then
 * answers during the start and `/ready` says `starting`. The server closes
 * when the broker has stopped, so `/ready` answers 503 during the whole stop.
 */
export async function startHealthServer(broker: ServiceBroker, port: number, host?: string): Promise<Server> {
	const state: HealthState = { everStarted: false };
	const server = createServer((req, res) => {
		route(broker, state, req, res).catch((err: unknown) => {
			broker.logger.warn(`Health check failed: ${message(err)}`);
			if (!res.headersSent) send(res, 503, { status: "down", nodeID: broker.nodeID, error: message(err) });
		});
	});
	// Probes open a connection per check: never keep one waiting.
	server.keepAliveTimeout = 1000;
	broker.middlewares.add({
		name: "HealthServer",
		async started() {
			state.everStarted = true;
		},
		stopped() {
			return new Promise<void>(resolve => {
				server.close(() => resolve());
				server.closeAllConnections();
			});
		}
	});
	await new Promise<void>((resolve, reject) => {
		server.once("error", reject);
		server.listen(port, host, () => {
			server.off("error", reject);
			resolve();
		});
	});
	broker.logger.info(`Health port listening on ${(server.address() as AddressInfo).port}: /live, /ready.`);
	return server;
}
