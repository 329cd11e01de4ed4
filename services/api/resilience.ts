import type { Server } from "node:http";
import type { Service, ServiceSchema } from "moleculer";
import { drainOnStop } from "./drain";
import { createIdempotencyStore, type IdempotencyStore } from "./idempotency-store";

/** The gateway's part this mixin reads and sets. */
type Gateway = Service & {
	settings: { redisUrl?: string; keyPrefix: string };
	idempotencyStore?: IdempotencyStore;
	server?: Server;
};

/**
 * How long a stopping gateway answers `/health` 503 while still accepting
 * connections: several probe periods of a balancer that checks `/health`
 * (the local cluster balancer probes every 250 ms).
 */
const READINESS_GRACE_MS = 1000;

/**
 * Mixed into the `api` gateway beside moleculer-web: drains the HTTP server
 * when the broker stops (see `drain.ts`) and owns the `Idempotency-Key` store
 * (see `idempotency.ts`). Both hooks run in `started`, when moleculer-web has
 * created its server, whatever the mixin order.
 */
export const GatewayResilienceMixin: Partial<ServiceSchema> = {
	started(this: Service) {
		const gateway = this as Gateway;
		drainOnStop(this, gateway.server, {
			timeoutMs: this.broker.options.tracking?.shutdownTimeout ?? 10_000,
			readinessGraceMs: READINESS_GRACE_MS
		});
		const { redisUrl, keyPrefix } = gateway.settings;
		if (!redisUrl && this.broker.transit) {
			this.logger.warn(
				"No REDIS_URL: Idempotency-Key answers are kept by this gateway only; other gateways will not replay them."
			);
		}
		gateway.idempotencyStore = createIdempotencyStore({ redisUrl, keyPrefix, logger: this.logger });
	},

	async stopped(this: Service) {
		const gateway = this as Gateway;
		await gateway.idempotencyStore?.close();
		gateway.idempotencyStore = undefined;
	}
};
