import { Errors, type BrokerOptions } from "moleculer";
import { getConfig } from "./src/config";
import { jsonFormatter, prettyFormatter } from "./src/logging";
import { redisOptionsFromUrl } from "./src/redis";
import { ServedByMiddleware } from "./src/served-by";
import { transporterFromUrl } from "./src/transporter";

/**
 * Broker options of every node, from the environment (src/config.ts). Load
 * balancing, retries, circuit breaking, timeouts, bulkhead and graceful stop
 * are Moleculer's own; this file only sets them.
 */
const config = getConfig();

/** Retry only what another node could answer: not timeouts of a busy node's writes. */
function isRetryable(err: Error): boolean {
	return err instanceof Errors.MoleculerRetryableError || (err as Errors.MoleculerError).retryable === true;
}

const brokerConfig: BrokerOptions = {
	namespace: config.namespace,
	nodeID: config.nodeID ?? null,

	logger: {
		type: "Console",
		options: {
			// Our formatters redact passwords, tokens and Authorization headers at every level.
			formatter: config.logFormat === "json" ? jsonFormatter : prettyFormatter,
			colors: false,
			moduleColors: false,
			autoPadding: false
		}
	},
	logLevel: config.logLevel,

	transporter: config.transporter ? transporterFromUrl(config.transporter) : null,
	serializer: "JSON",

	// Reads are cached; every write cleans the users cache. With Redis the cache
	// is shared by all nodes; embedded, a bounded in-process LRU.
	cacher: config.redisUrl
		? {
				type: "Redis",
				options: {
					ttl: 60,
					prefix: `${config.redisKeyPrefix}cache`,
					redis: redisOptionsFromUrl(config.redisUrl)
				}
			}
		: { type: "MemoryLRU", options: { ttl: 60, max: 5000 } },

	requestTimeout: config.requestTimeoutMs,
	retryPolicy: {
		enabled: true,
		retries: 2,
		delay: 50,
		maxDelay: 500,
		factor: 2,
		check: isRetryable
	},
	circuitBreaker: {
		enabled: true,
		threshold: 0.5,
		minRequestCount: 20,
		windowTime: 30,
		halfOpenTime: 5_000,
		// Client errors (4xx) say nothing about a node's health.
		check: err => ((err as Errors.MoleculerError).code ?? 500) >= 500
	},
	bulkhead: { enabled: true, concurrency: 100, maxQueueSize: 500 },
	// Graceful stop: a stopping node waits for its in-flight contexts.
	tracking: { enabled: true, shutdownTimeout: 10_000 },

	registry: { strategy: "RoundRobin", preferLocal: true },
	heartbeatInterval: 5,
	heartbeatTimeout: 15,

	metrics: config.metricsPort
		? {
				enabled: true,
				reporter: { type: "Prometheus", options: { port: config.metricsPort, path: "/metrics" } }
			}
		: false,

	middlewares: [ServedByMiddleware]
};

export default brokerConfig;
