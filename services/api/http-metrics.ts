import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { ServiceSchema } from "moleculer";

/** Requests answered by the gateway, by method, route template and status. */
export const HTTP_REQUESTS_TOTAL = "rncp.http.requests.total";
/** Time from request to last byte written, in ms, by method and route template. */
export const HTTP_REQUEST_TIME = "rncp.http.request.time";

/**
 * Upper bounds (ms) of the latency buckets: fine where the gateway answers,
 * coarse past 1 s. Integers only: the reporter writes buckets in object-key
 * order, where a key like "2.5" would come after every integer.
 */
const BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];

/** What moleculer-web leaves on the request once it matched an alias. */
type RoutedRequest = IncomingMessage & { $alias?: { method?: string; fullPath?: string } };

/**
 * Per-route HTTP metrics of a moleculer-web gateway (moleculer-web 0.11 has
 * none of its own; the broker's `moleculer.request.*` metrics see only the
 * actions). The label is the alias template (`/users/:id`), never the raw URL,
 * so the number of series stays bounded; requests no alias matched (404s,
 * rejected before routing) share the route `unmatched`. Off when the broker's
 * metrics are off: then this costs nothing per request.
 */
export const HttpMetricsMixin: Partial<ServiceSchema> = {
	started() {
		const metrics = this.broker.metrics;
		if (!this.broker.isMetricsEnabled() || !metrics) return;
		metrics.register({
			name: HTTP_REQUESTS_TOTAL,
			type: "counter",
			labelNames: ["method", "route", "status"],
			unit: "request",
			description: "HTTP requests answered by the gateway",
			rate: true
		});
		metrics.register({
			name: HTTP_REQUEST_TIME,
			type: "histogram",
			labelNames: ["method", "route"],
			unit: "millisecond",
			description: "HTTP request time until the answer is written, in ms",
			buckets: BUCKETS,
			quantiles: false
		});
		const server = (this as unknown as { server: Server }).server;
		server.prependListener("request", (req: RoutedRequest, res: ServerResponse) => {
			const start = process.hrtime.bigint();
			res.once("finish", () => {
				const route = req.$alias?.fullPath ?? "unmatched";
				const method = req.method ?? "";
				metrics.increment(HTTP_REQUESTS_TOTAL, { method, route, status: res.statusCode });
				metrics.observe(HTTP_REQUEST_TIME, Number(process.hrtime.bigint() - start) / 1e6, { method, route });
			});
		});
	}
};
