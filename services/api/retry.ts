import type { Middleware, ServiceSchema } from "moleculer";

/**
 * Moleculer's retry policy wraps every action, the gateway's own included:
 * moleculer-web runs each HTTP request as a local `api.rest` action, so a
 * retryable failure of the call inside it (a users node gone, a timeout) ran
 * the whole request again, rate-limit count, authentication and body
 * included, and each of those runs retried the inner call again (up to
 * 3 × 3 attempts; a `POST` ran twice in the node-kill test). The gateway's
 * actions only route and compose calls to other services: those inner calls
 * keep the broker's policy (the users writes turn it off themselves), the
 * gateway's actions are never retried as a whole.
 */
export const GatewayRetryMiddleware: Middleware = {
	name: "GatewayRetry",
	serviceCreating(_service: unknown, schema: ServiceSchema) {
		if (schema.name !== "api" || !schema.actions) return;
		for (const [name, action] of Object.entries(schema.actions)) {
			if (typeof action === "boolean") continue;
			const definition: object = typeof action === "function" ? { handler: action } : action;
			schema.actions[name] = { ...definition, retryPolicy: { enabled: false } } as never;
		}
	}
};
