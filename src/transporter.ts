import { Transporters, type BrokerOptions } from "moleculer";
import { redisOptionsFromUrl } from "./redis";

type TransporterOption = NonNullable<BrokerOptions["transporter"]>;

/**
 * The broker's `transporter` option from a connection string. Moleculer accepts
 * `redis://…`, `nats://…` strings at run time, but its 0.15 typings only take
 * a transporter type name, a `{ type, options }` object or an instance.
 */
export function transporterFromUrl(url: string): TransporterOption {
	if (/^rediss?:\/\//.test(url)) {
		// Auto-pipelining batches the PUBLISH of every packet queued in one
		// event-loop turn into one socket write: measured in docs/performance.md.
		// Order is kept (one queue per client, and the publisher client sends
		// nothing but PUBLISH), and a failed batch fails each of its packets as
		// a lone command would.
		return { type: "Redis", options: { ...redisOptionsFromUrl(url), enableAutoPipelining: true } };
	}
	if (/^nats:\/\//.test(url)) {
		return { type: "NATS", options: { url } };
	}
	// AMQP, MQTT, Kafka, TCP…: Moleculer's own resolver parses the URL.
	return Transporters.resolve(url);
}
