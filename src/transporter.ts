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
		return { type: "Redis", options: redisOptionsFromUrl(url) };
	}
	if (/^nats:\/\//.test(url)) {
		return { type: "NATS", options: { url } };
	}
	// AMQP, MQTT, Kafka, TCP…: Moleculer's own resolver parses the URL.
	return Transporters.resolve(url);
}
