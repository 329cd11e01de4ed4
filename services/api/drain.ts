import type { Server, ServerResponse } from "node:http";
import type { Service } from "moleculer";

/**
 * Graceful drain of a moleculer-web HTTP server when its broker stops.
 *
 * `broker.stop()` (SIGTERM) first tells the cluster this node leaves, waits
 * `registry.stopDelay`, then calls the middlewares' `stopping` hooks, and only
 * after that stops the services (moleculer-web's `stopped` closes the server).
 * Left alone, the server would keep accepting requests during the context
 * tracker's wait and then cut keep-alive connections. This helper hooks
 * `stopping`, which runs before the tracker's wait, and:
 *
 * 1. flips readiness: `isDraining()` becomes true (`/health` answers 503);
 * 2. stops listening (`server.close()`): new connections are refused, so a
 *    balancer moves them to another gateway before any byte is sent;
 *    and closes idle keep-alive connections (Node's `close()` does that);
 * 3. answers the requests still in flight with `Connection: close`, so the
 *    clients do not reuse those connections;
 * 4. waits for the in-flight requests to finish, and after `timeoutMs` cuts
 *    what is left (`closeAllConnections()`).
 *
 * In-flight requests are Moleculer contexts of the `rest` action, so the
 * tracker (`tracking.enabled`) also waits for them once the server is closed.
 */
export interface DrainOptions {
	/** Upper bound of the whole drain, in ms (the broker's tracking `shutdownTimeout`). */
	timeoutMs: number;
}

interface DrainState {
	draining: boolean;
}

const states = new WeakMap<object, DrainState>();

/** True once the broker of this gateway service has started to stop. */
export function isDraining(service: object): boolean {
	return states.get(service)?.draining === true;
}

/** Installs the drain for `service`'s HTTP server; call it from the service's `created` hook. */
export function drainOnStop(service: Service, server: Server | undefined, opts: DrainOptions): void {
	if (!server) return;
	const state: DrainState = { draining: false };
	states.set(service, state);

	// Responses whose headers may still be written: they get `Connection: close`
	// when the drain starts. Runs before moleculer-web's own request listener.
	const open = new Set<ServerResponse>();
	server.prependListener("request", (_req, res: ServerResponse) => {
		if (state.draining) {
			res.setHeader("Connection", "close");
			return;
		}
		open.add(res);
		res.once("close", () => open.delete(res));
	});

	async function drain(): Promise<void> {
		if (state.draining) return;
		state.draining = true;
		for (const res of open) {
			if (!res.headersSent) res.setHeader("Connection", "close");
		}
		open.clear();
		if (!server!.listening) return;

		service.logger.info("Draining HTTP connections: no new connection is accepted.");
		const started = Date.now();
		const closed = new Promise<void>(resolve => server!.close(() => resolve()));
		const cut = setTimeout(() => {
			service.logger.warn(`HTTP drain timed out after ${opts.timeoutMs} ms: closing the remaining connections.`);
			server!.closeAllConnections();
		}, opts.timeoutMs);
		await closed;
		clearTimeout(cut);
		service.logger.info(`HTTP connections drained in ${Date.now() - started} ms.`);
	}

	service.broker.middlewares.add({ name: "GatewayDrain", stopping: drain });
}
