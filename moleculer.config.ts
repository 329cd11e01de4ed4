import { Errors, type BrokerOptions } from "moleculer";
import { getConfig } from "./src/config";
import { FailedCallReleaser, RemoteCallSettler } from "./src/abandoned-calls";
import { cacheKey } from "./src/cache-key";
import { BufferedConsoleLogger } from "./src/log-writer";
import { jsonFormatter, prettyFormatter } from "./src/logging";
import { GatewayRetryMiddleware } from "./services/api/retry";
import { RetryAwareRoundRobinStrategy } from "./src/retry-strategy";
import { ServedByMiddleware } from "./src/served-by";
import { tracingOptions } from "./src/tracing";
import { transporterFromUrl } from "./src/transporter";

/**
 * Broker options of every node, from the environment (src/config.ts). Load
 * balancing, retries, circuit breaking, timeouts, bulkhead and graceful stop
 * are Moleculer's own; this file only sets them.
 */
const config = getConfig();

type FormatterFunction = (type: string, args: unknown[]) => string[];

/** Retry only what another node could answer: not timeouts of a busy node's writes. */
function isRetryable(err: Error): boolean {
	return err instanceof Errors.MoleculerRetryableError || (err as Errors.MoleculerError).retryable === true;
}

/**
 * Every middleware of a node, first = innermost (next to the handler or the
 * transit). Moleculer's own are listed in its order (service-broker.js
 * INTERNAL_MIDDLEWARES), with two changes:
 * - the Validator wraps the Bulkhead and the Cacher: params are validated
 *   before the cache is read, so an invalid request is never answered from it;
 * - the two halves of src/abandoned-calls.ts around the ContextTracker and the
 *   Timeout: a timed-out remote call does not hold up a graceful stop.
 */
export const MIDDLEWARES: NonNullable<BrokerOptions["middlewares"]> = [
	RemoteCallSettler,
	ServedByMiddleware,
	// Only the calls inside a gateway request are retried, never the request
	// itself (services/api/retry.ts); it acts when services are created.
	GatewayRetryMiddleware,
	"ActionHook",
	"Bulkhead",
	"Cacher",
	"Validator",
	"ContextTracker",
	"CircuitBreaker",
	"Timeout",
	FailedCallReleaser,
	"Retry",
	"Fallback",
	"ErrorHandler",
	"Tracing",
	"Metrics",
	"Debounce",
	"Throttle"
];

const brokerConfig: BrokerOptions = {
	namespace: config.namespace,
	nodeID: config.nodeID ?? null,

	// Moleculer's Console logger, writing the lines of one event-loop turn in
	// one write (src/log-writer.ts): the access log is one line per request.
	logger: new BufferedConsoleLogger({
		// Our formatters redact passwords, tokens and Authorization headers at every level.
		// Moleculer passes the bindings as a third argument; its typings omit it.
		formatter: (config.logFormat === "json" ? jsonFormatter : prettyFormatter) as FormatterFunction,
		colors: false,
		moduleColors: false,
		autoPadding: false
	}),
	logLevel: config.logLevel,

	transporter: config.transporter ? transporterFromUrl(config.transporter) : null,
	serializer: "JSON",

	// Reads are cached in memory on each users node (a Redis cacher in front of
	// data that is itself in Redis costs a round trip per hit, like the store);
	// every write cleans the users cache of every node (the users service
	// broadcasts `cache.clean.users`). Measured in docs/performance.md.
	// Keys are a hash of the JSON of the key values (src/cache-key.ts): unambiguous whatever they hold.
	cacher: { type: "MemoryLRU", options: { ttl: 60, max: 5000, keygen: cacheKey } },

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

	// On stop a node first announces it has no services, then waits `stopDelay`
	// before refusing requests: requests the other nodes sent before they saw the
	// announcement still arrive and are served (writes are not retried).
	// Round robin, a retry going to another node than the one that failed it
	// (src/retry-strategy.ts).
	registry: { strategy: RetryAwareRoundRobinStrategy, preferLocal: true, stopDelay: 500 },
	// Moleculer announces a node's services 1 s after the last one started (a
	// debounce for nodes that register many); ours run one to three, and that
	// second is half of a users node's start-to-ready time (docs/performance.md).
	// (An option of Moleculer 0.15 that its TransitOptions typing lacks.)
	transit: { serviceChangedDebounceTime: 50 } as BrokerOptions["transit"],
	// A node killed without a goodbye (SIGKILL, crash, lost host) is dropped once
	// its heartbeats stop for `heartbeatTimeout` s, checked every
	// `heartbeatTimeout` s: 6–12 s here. Until then a third of the reads to it
	// wait for a timeout before their retry (node-kill test: 5/15 took 23 s).
	heartbeatInterval: 2,
	heartbeatTimeout: 6,

	metrics: config.metricsPort
		? {
				enabled: true,
				// Percentiles come from the histogram buckets (histogram_quantile in
				// Prometheus, aggregated over replicas). Moleculer's own quantiles keep
				// every sample of the last minute per series and sort them at each
				// scrape: 139 ms per series at 2 000 req/s (docs/performance.md).
				// null, not []: an empty list still keeps the samples.
				defaultQuantiles: null as unknown as number[],
				reporter: { type: "Prometheus", options: { port: config.metricsPort, path: "/metrics" } }
			}
		: false,

	// One trace per HTTP request, a span per action on every node, sent to a
	// Zipkin-compatible store at TRACING_URL (src/tracing.ts); unset = off.
	tracing: tracingOptions(config.tracingUrl),

	// Moleculer's own middlewares are in MIDDLEWARES, in an order of ours.
	internalMiddlewares: false,
	middlewares: MIDDLEWARES
};

export default brokerConfig;
