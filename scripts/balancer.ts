import { get } from "node:http";
import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * A round-robin TCP balancer for loopback clusters: what the nginx container
 * is in docker-compose, for machines without Docker (`npm run cluster`) and
 * for the cluster tests. Each client connection is piped to the next backend;
 * a backend that refuses the connection (stopped, not started yet) is
 * skipped, which is safe because nothing has been sent to it yet.
 *
 * With `health`, backends are also probed over HTTP, as Traefik, HAProxy or a
 * Kubernetes Service do: one answering anything but 2xx (a gateway draining
 * answers 503) gets no new connection. If none is healthy, all are used, so
 * clients still get the gateways' own 503 answers rather than resets.
 */
export interface Backend {
	host: string;
	port: number;
}

export interface BalancerOptions {
	port: number;
	host?: string;
	backends: Backend[];
	/** How long one backend may take to accept a connection before the next is tried. */
	connectTimeoutMs?: number;
	/** Active health checks: `GET path` every `intervalMs`. */
	health?: { path: string; intervalMs: number };
}

export interface Balancer {
	port: number;
	url: string;
	/** Replaces the backend list (scale up / down); open connections are untouched. */
	setBackends(backends: Backend[]): void;
	backends(): Backend[];
	/** Connections handed to each backend, by `host:port`. */
	connections(): Record<string, number>;
	/** Stops listening and cuts every piped connection. */
	close(): Promise<void>;
}

const label = (b: Backend) => `${b.host}:${b.port}`;

export function startBalancer(opts: BalancerOptions): Promise<Balancer> {
	let backends = [...opts.backends];
	let next = 0;
	const counts: Record<string, number> = {};
	const sockets = new Set<Socket>();
	const connectTimeoutMs = opts.connectTimeoutMs ?? 2000;
	/** Backends whose last probe failed, by `host:port`. */
	const unhealthy = new Set<string>();

	function probe(backend: Backend, path: string, timeoutMs: number): Promise<boolean> {
		return new Promise(resolve => {
			const req = get({ host: backend.host, port: backend.port, path, agent: false, timeout: timeoutMs }, res => {
				res.resume();
				resolve(res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300);
			});
			req.once("timeout", () => req.destroy());
			req.once("error", () => resolve(false));
		});
	}

	let probing: NodeJS.Timeout | undefined;
	let closed = false;
	if (opts.health) {
		const { path, intervalMs } = opts.health;
		const round = async () => {
			await Promise.all(
				backends.map(async b => {
					if (await probe(b, path, Math.max(intervalMs, 1000))) unhealthy.delete(label(b));
					else unhealthy.add(label(b));
				})
			);
			if (!closed) probing = setTimeout(round, intervalMs);
		};
		probing = setTimeout(round, 0);
	}

	/** The backends that get new connections: the healthy ones, or all if none is. */
	function candidates(): Backend[] {
		const healthy = backends.filter(b => !unhealthy.has(label(b)));
		return healthy.length > 0 ? healthy : backends;
	}

	function track(socket: Socket): void {
		sockets.add(socket);
		socket.once("close", () => sockets.delete(socket));
	}

	/** Tries the backends in turn, from the round-robin position, each at most once. */
	function dial(client: Socket, tried = 0): void {
		if (client.destroyed) return;
		const pool = candidates();
		if (pool.length === 0 || tried >= pool.length) {
			client.destroy();
			return;
		}
		const backend = pool[next++ % pool.length];
		const upstream = connect({ host: backend.host, port: backend.port });
		track(upstream);
		upstream.setTimeout(connectTimeoutMs);
		const retry = () => {
			upstream.destroy();
			dial(client, tried + 1);
		};
		upstream.once("timeout", retry);
		upstream.once("error", retry);
		upstream.once("connect", () => {
			upstream.setTimeout(0);
			upstream.removeListener("timeout", retry);
			upstream.removeListener("error", retry);
			counts[label(backend)] = (counts[label(backend)] ?? 0) + 1;
			upstream.setNoDelay(true);
			const cut = () => {
				client.destroy();
				upstream.destroy();
			};
			upstream.on("error", cut);
			client.on("error", cut);
			upstream.once("close", () => client.end());
			client.once("close", () => upstream.end());
			client.pipe(upstream);
			upstream.pipe(client);
			client.resume();
		});
	}

	const server: Server = createServer({ pauseOnConnect: true }, client => {
		track(client);
		client.setNoDelay(true);
		dial(client);
	});

	return new Promise((resolve, reject) => {
		server.once("error", reject);
		server.listen(opts.port, opts.host ?? "127.0.0.1", () => {
			const address = server.address();
			const port = typeof address === "object" && address ? address.port : opts.port;
			resolve({
				port,
				url: `http://${opts.host ?? "127.0.0.1"}:${port}`,
				setBackends(list) {
					backends = [...list];
				},
				backends: () => [...backends],
				connections: () => ({ ...counts }),
				close() {
					closed = true;
					clearTimeout(probing);
					return new Promise(done => {
						server.close(() => done());
						for (const socket of sockets) socket.destroy();
					});
				}
			});
		});
	});
}
