import type { IncomingMessage } from "node:http";
import type { CallingOptions } from "moleculer";

/** Methods whose request may run twice without harm (RFC 9110 §9.2.2). */
const IDEMPOTENT_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * moleculer-web runs each HTTP request as a local `api.rest` action, which the
 * broker's retry policy wraps like any other: a retryable error inside it (a
 * downstream timeout, a node gone) re-runs the whole request, body included.
 * Per-action `retryPolicy: { enabled: false }` on the users writes does not
 * cover that outer retry, so a `POST /users` whose node was killed ran twice
 * in the node-kill test. Only requests with idempotent methods keep it.
 */
export function retryOnlyIdempotent(options: CallingOptions, req: IncomingMessage): void {
	if (!IDEMPOTENT_METHODS.has((req.method ?? "GET").toUpperCase())) options.retries = 0;
}
