import { createHash } from "node:crypto";
import { TracerExporters, type Context, type Span, type TracerOptions } from "moleculer";

/**
 * Tracing across nodes: Moleculer's tracer (one span per action on every
 * node, parent links carried by the contexts) and its Zipkin exporter, so any
 * Zipkin-compatible store (Grafana Tempo, Jaeger, Zipkin) takes the spans.
 */

const ZIPKIN_TRACE_ID = /^(?:[0-9a-f]{16}|[0-9a-f]{32})$/;

/**
 * The Zipkin trace ID of a request. Moleculer uses the request ID as trace ID;
 * Zipkin wants 16 or 32 lowercase hex digits. A request ID that is one once
 * its dashes are removed (the gateway's generated UUIDs, or a client's hex
 * IDs) is carried as is, lowercased; any other accepted ID (`[A-Za-z0-9._:-]`)
 * becomes the first 32 hex digits of its SHA-256. The `requestID` tag of every
 * span keeps the original, so a trace store finds a trace by either.
 */
export function zipkinTraceId(requestID: string): string {
	const hex = requestID.replace(/-/g, "").toLowerCase();
	if (ZIPKIN_TRACE_ID.test(hex) && !/^0+$/.test(hex)) return hex;
	return createHash("sha256").update(requestID).digest("hex").slice(0, 32);
}

/** Params that are identifiers or paging, never secrets: the only ones a span keeps. */
const TRACED_PARAMS = ["id", "page", "pageSize"] as const;

/**
 * Tags of an action span besides Moleculer's own (action, nodes, requestID):
 * the allowed params only. Moleculer's default would copy every param into the
 * trace store, the password of a sign-up included; meta and responses are
 * never tagged.
 */
export function actionTags(ctx: Context, response?: unknown): Record<string, unknown> {
	if (response !== undefined) return {};
	const params = ctx.params as Record<string, unknown> | null;
	if (params == null || typeof params !== "object") return {};
	const kept: Record<string, unknown> = {};
	for (const key of TRACED_PARAMS) {
		const value = params[key];
		if (typeof value === "string" || typeof value === "number") kept[key] = value;
	}
	return Object.keys(kept).length ? { params: kept } : {};
}

type ZipkinPayload = Record<string, unknown> & { traceId: string | null };

/**
 * Moleculer's Zipkin exporter with two changes: full 128-bit trace IDs equal to
 * the request ID (its own cuts every ID to 16 digits), and the last spans sent
 * when the node stops instead of dropped with the timer.
 */
export class ZipkinExporter extends TracerExporters.Zipkin {
	private failing = false;

	override makePayload(span: Span): ZipkinPayload {
		const payload = super.makePayload(span) as ZipkinPayload;
		payload.traceId = zipkinTraceId(span.traceID);
		return payload;
	}

	/** Posts the queued spans; a collector outage costs the spans of that batch, never a request. */
	override flush(): Promise<void> {
		if (this.queue.length === 0) return Promise.resolve();
		const body = JSON.stringify(this.generateTracingData());
		this.queue.length = 0;
		return fetch(`${this.opts.baseURL}/api/v2/spans`, {
			method: "POST",
			body,
			headers: this.opts.headers,
			signal: AbortSignal.timeout(5000)
		}).then(
			res => this.report(res.ok ? undefined : `HTTP ${res.status}`),
			(err: Error) => this.report(err.message)
		);
	}

	override async stop(): Promise<void> {
		super.stop();
		await this.flush();
	}

	/** One warning when the collector starts failing, one line when it is back. */
	private report(error: string | undefined): void {
		if (error && !this.failing) this.logger.warn(`Spans cannot be sent to ${this.opts.baseURL}: ${error}`);
		else if (!error && this.failing) this.logger.info(`Spans are sent to ${this.opts.baseURL} again.`);
		this.failing = error !== undefined;
	}
}

/** Broker `tracing` options: off (no middleware at all) unless a collector URL is set. */
export function tracingOptions(url: string | undefined): TracerOptions | false {
	if (!url) return false;
	return {
		enabled: true,
		actions: true,
		events: false,
		// No `data`: a validation error's data holds the rejected values, passwords included.
		errorFields: ["name", "message", "code", "type", "retryable"],
		tags: { action: actionTags },
		// An exporter instance is used as is (Moleculer's resolver); its typing only names the built-in ones.
		exporter: new ZipkinExporter({ baseURL: url, interval: 1 }) as unknown as TracerOptions["exporter"]
	};
}
