import { Transporters, type BrokerOptions } from "moleculer";
import { redisOptionsFromUrl } from "./redis";

type TransporterOption = NonNullable<BrokerOptions["transporter"]>;

interface RedisCommandClient {
	publish(topic: string, data: Buffer): Promise<unknown>;
	subscribe(topic: string): Promise<unknown>;
}

/**
 * Moleculer's Redis transporter, with its fire-and-forget commands caught.
 *
 * `send` and `subscribe` call ioredis and drop the promise. A packet sent just
 * as Redis goes away waits in ioredis' offline queue; if Redis stays away for
 * ~20 reconnection attempts, ioredis rejects it (MaxRetriesPerRequestError),
 * nobody catches it and Node ends the process. The Redis-restart cluster test
 * lost its gateway that way after 14 s of outage. Same behaviour otherwise:
 * the packet is still sent if Redis comes back in time.
 */
export class RedisTransporter extends Transporters.Redis {
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
