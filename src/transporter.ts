import { Transporters, type BrokerOptions } from "moleculer";
import { redisOptionsFromUrl } from "./redis";

type TransporterOption = NonNullable<BrokerOptions["transporter"]>;

interface RedisCommandClient {
	publish(topic: string, data: Buffer): Promise<unknown>;
	subscribe(topic: string): Promise<unknown>;
}

/** A Redis client as this transporter uses it (ioredis' `Redis` or `Cluster`). */
interface RedisClient extends RedisCommandClient {
	on(event: string, listener: (...args: never[]) => void): unknown;
}

/**
 * Moleculer's Redis transporter, with its reconnection made whole and its
 * fire-and-forget commands caught.
 *
 * Reconnection. Moleculer's `connect()` creates a new publisher client each
 * time the subscriber becomes ready — also after every reconnection, leaking
 * the old one — and then runs the transit's first-connection path, which
 * neither announces this node nor tells the others it is back. Nodes that
 * dropped each other during the outage (heartbeats stop for longer than
 * `heartbeatTimeout`) then wait for a heartbeat, a DISCOVER and an INFO, one
 * round at a time, and a DISCOVER sent while the peer's subscriber is still
 * reconnecting is lost: after Redis came back, one gateway's `/health`
 * reported no `users` instance for seconds while another was fine. Here one
 * subscriber and one publisher live as long as the transporter, and each time
 * both are ready again the transit's reconnection path runs: this node
 * broadcasts its INFO (the others take it back at once) and a DISCOVER (it
 * learns every node that is back). Each node does so when its own clients are
 * back, so the cluster is whole as soon as the last node has reconnected.
 *
 * Commands. `send` and `subscribe` call ioredis and drop the promise. A packet
 * sent just as Redis goes away waits in ioredis' offline queue; if Redis stays
 * away for ~20 reconnection attempts, ioredis rejects it
 * (MaxRetriesPerRequestError), nobody catches it and Node ends the process.
 * The Redis-restart cluster test lost its gateway that way after 14 s of
 * outage. Same behaviour otherwise: the packet is still sent if Redis comes
 * back in time.
 */
export class RedisTransporter extends Transporters.Redis {
	override connect(): Promise<void> {
		return new Promise((resolve, reject) => {
			const sub = this.getRedisClient(this.opts) as unknown as RedisClient;
			const pub = this.getRedisClient(this.opts) as unknown as RedisClient;
			const ready = new Set<string>();
			let first = true;

			const watch = (client: RedisClient, name: "sub" | "pub") => {
				client.on("ready", () => {
					this.logger.info(`Redis-${name} client is connected.`);
					ready.add(name);
					if (ready.size < 2) return;
					if (first) {
						first = false;
						this.clientSub = sub;
						this.clientPub = pub;
						this.onConnected().then(() => resolve(), reject);
					} else {
						this.onConnected(true).catch((err: unknown) =>
							this.logger.warn(`Announcing the reconnection failed: ${(err as Error).message}`)
						);
					}
				});
				client.on("close", () => {
					if (ready.delete(name)) this.logger.warn(`Redis-${name} client is disconnected.`);
					this.connected = false;
				});
				client.on("error", (err: Error) => {
					this.logger.error(`Redis-${name} error`, err.message);
					this.broker.broadcastLocal("$transporter.error", {
						error: err,
						module: "transporter",
						type: name === "pub" ? "publisherError" : "consumerError"
					});
					// No reject: ioredis keeps reconnecting and `ready` resolves. A
					// rejection would make the transit call connect() again, with a
					// second pair of clients beside this one.
				});
			};
			watch(sub, "sub");
			watch(pub, "pub");

			sub.on("messageBuffer", (rawTopic: Buffer, buf: Buffer) => {
				const topic = rawTopic.toString().substring(this.prefix.length + 1);
				void this.receive(topic.split(".")[0], buf);
			});
		});
	}

	private settle(what: string, command: Promise<unknown>): void {
		command.catch((err: unknown) => this.logger.warn(`Redis ${what} failed: ${(err as Error).message}`));
	}

	override send(topic: string, data: Buffer): Promise<void> {
		const client = this.clientPub as RedisCommandClient | null;
		if (!client) return super.send(topic, data);
		this.settle(`PUBLISH ${topic}`, client.publish(topic, data));
		return Promise.resolve();
	}

	override subscribe(cmd: string, nodeID?: string): Promise<void> {
		const client = this.clientSub as RedisCommandClient;
		this.settle(`SUBSCRIBE ${cmd}`, client.subscribe(this.getTopicName(cmd, nodeID)));
		return Promise.resolve();
	}
}

/**
 * The broker's `transporter` option from a connection string. Moleculer accepts
 * `redis://…`, `nats://…` strings at run time, but its 0.15 typings only take
 * a transporter type name, a `{ type, options }` object or an instance.
 */
export function transporterFromUrl(url: string): TransporterOption {
	if (/^rediss?:\/\//.test(url)) {
		// An instance (it connects only when its broker starts): one broker per call.
		// Auto-pipelining batches the PUBLISH of every packet queued in one
		// event-loop turn into one socket write: measured in docs/performance.md.
		// Order is kept (one queue per client, and the publisher client sends
		// nothing but PUBLISH), and a failed batch fails each of its packets as
		// a lone command would (caught by `settle` above).
		return new RedisTransporter({ ...redisOptionsFromUrl(url), enableAutoPipelining: true });
	}
	if (/^nats:\/\//.test(url)) {
		return { type: "NATS", options: { url } };
	}
	// AMQP, MQTT, Kafka, TCP…: Moleculer's own resolver parses the URL.
	return Transporters.resolve(url);
}
