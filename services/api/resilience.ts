import type { Server } from "node:http";
import type { Service, ServiceSchema } from "moleculer";
import { getConfig } from "../../src/config";
import { drainOnStop } from "./drain";
import { createIdempotencyStore, type IdempotencyStore } from "./idempotency-store";

const config = getConfig();

const stores = new WeakMap<Service, IdempotencyStore>();

/**
 * How long a stopping gateway answers `/health` 503 while still accepting
 * connections: several probe periods of a balancer that checks `/health`
 * (the local cluster balancer probes every 250 ms).
 */
const READINESS_GRACE_MS = 1000;

/** The idempotency store of a gateway service, once it has started. */
export function idempotencyStoreOf(service: Service): IdempotencyStore | undefined {
	return stores.get(service);
}

/**
 * Mixed into the `api` gateway beside moleculer-web: drains the HTTP server
 * when the broker stops (see `drain.ts`) and owns the `Idempotency-Key` store
 * (see `idempotency.ts`). Both hooks run in `started`, when moleculer-web has
 * created its server, whatever the mixin order.
 */
export const GatewayResilienceMixin: Partial<ServiceSchema> = {
	started(this: Service) {
		const server = (this as Service & { server?: Server }).server;
		drainOnStop(this, server, {
			timeoutMs: this.broker.options.tracking?.shutdownTimeout ?? 10_000,
			readinessGraceMs: READINESS_GRACE_MS
		});
		if (!config.redisUrl && this.broker.transit) {
			this.logger.warn(
				"No REDIS_URL: Idempotency-Key answers are kept by this gateway only; other gateways will not replay them."
			);
		}
		stores.set(
			this,
			createIdempotencyStore({ redisUrl: config.redisUrl, keyPrefix: config.redisKeyPrefix, logger: this.logger })
		);
	},

	async stopped(this: Service) {
		await stores.get(this)?.close();
		stores.delete(this);
	}
};
