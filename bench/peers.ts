import path from "node:path";
import { freePort } from "../test/support/redis-server";
import { ROOT, spawnProc, type Proc } from "./nodes";
import { JWT_SECRET, waitUntil } from "./setup";

/*
 * The peers the product is compared with in the same rounds: the
 * stacks a user would pick instead. Both serve the product's JSON of the
 * signed-in user, accept the product's token (same JWT_SECRET, issuer,
 * audience), listen on loopback only, and are stopped by pid like every node.
 */

const PEERS = path.join(ROOT, "dist", "bench", "peers");

export interface Peer {
	name: string;
	base: string;
	procs: Proc[];
	stop(): Promise<void>;
}

function peer(name: string, base: string, procs: Proc[]): Peer {
	return {
		name,
		base,
		procs,
		async stop() {
			await Promise.all(procs.map(p => p.stop()));
		}
	};
}

/** The token version a product token carries (`ver`), for the fastify peer's stored user. */
function tokenVersion(token: string): number {
	const payload = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8")) as { ver?: number };
	return payload.ver ?? 0;
}

/** fastify in one process with the embedded product's features (bench/peers/fastify-peer.ts). */
export async function startFastifyPeer(userJson: string, token: string): Promise<Peer> {
	const port = await freePort();
	const proc = spawnProc("fastify-peer", path.join(PEERS, "fastify-peer.js"), {
		NODE_ENV: "production",
		PEER_PORT: String(port),
		PEER_USER: userJson,
		PEER_TOKEN_VERSION: String(tokenVersion(token)),
		JWT_SECRET
	});
	const base = `http://127.0.0.1:${port}`;
	await waitUntil(`${base}/health`, s => s === 404, proc.startedAt, 30_000);
	return peer("fastify", base, [proc]);
}

/** A NestJS Express gateway and a Nest microservice over Nest's Redis transport (bench/peers/nest-peer.ts). */
export async function startNestPeer(redisUrl: string, userJson: string): Promise<Peer> {
	const port = await freePort();
	const env = { NODE_ENV: "production", PEER_REDIS_URL: redisUrl, PEER_USER: userJson, JWT_SECRET };
	const file = path.join(PEERS, "nest-peer.js");
	const gateway = spawnProc("nest-gateway", file, { ...env, PEER_ROLE: "gateway", PEER_PORT: String(port) });
	const users = spawnProc("nest-users", file, { ...env, PEER_ROLE: "users" });
	const base = `http://127.0.0.1:${port}`;
	// The guard answers 403 without a token once the gateway listens.
	await waitUntil(`${base}/users/x`, s => s === 403, gateway.startedAt, 30_000);
	return peer("nestjs", base, [gateway, users]);
}
