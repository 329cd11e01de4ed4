import type { Server, ServerResponse } from "node:http";
import { Server as NetServer } from "node:net";
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
 * 1. flips readiness: `isDraining()` becomes true (`/health` answers 503),
 *    and keeps serving for `readinessGraceMs`, so balancers that probe
 *    `/health` stop sending new connections here;
 * 2. stops listening: new connections are refused, so a balancer moves them
 *    to another gateway before any byte is sent (closing the listener resets
 *    connections still in its accept queue: the grace keeps that queue empty
 *    behind a probing balancer);
 * 3. answers every request still coming on open connections with
 *    `Connection: close`, so clients stop reusing them;
 * 4. leaves idle keep-alive connections to Node's `keepAliveTimeout`, which
 *    clients know from the `Keep-Alive: timeout=5` header and avoid racing
 *    (cutting them at once makes a client that is just reusing one fail with
 *    "other side closed" / ECONNRESET: the cluster tests showed it);
 * 5. resolves when every connection has ended, and after `timeoutMs` cuts
 *    what is left (`closeAllConnections()`).
 *
 * In-flight requests are Moleculer contexts of the `rest` action, so the
 * tracker (`tracking.enabled`) also waits for them once the server is closed.
 */
export interface DrainOptions {
	/** Upper bound of the whole drain, in ms (the broker's tracking `shutdownTimeout`). */
	timeoutMs: number;
	/** How long `/health` answers 503 before the listener closes, in ms. */
	readinessGraceMs: number;
}

/** The drain's state, kept on the gateway service (one of its locals). */
export interface DrainState {
	draining?: boolean;
}

/** True once the broker of this gateway service has started to stop. */
export function isDraining(service: object): boolean {
	return (service as DrainState).draining === true;
}

/** Installs the drain of `service`'s HTTP server (moleculer-web's `this.server`). */
export function drainOnStop(service: Service, httpServer: Server | undefined, opts: DrainOptions): void {
	if (!httpServer) return;
	const server = httpServer;
	const state = service as Service & DrainState;
	state.draining = false;

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
		if (!server.listening) return;

		const started = Date.now();
		service.logger.info(`Draining: /health answers 503; listening stops in ${opts.readinessGraceMs} ms.`);
		await new Promise(resolve => setTimeout(resolve, opts.readinessGraceMs));
		// Close in the check phase, right after the poll phase has accepted every
		// pending connection: closing a listener resets the connections still in
		// its accept queue, and a balancer that cannot probe (nginx) keeps sending
		// until it is refused. From a timer, the queue holds whatever arrived since
		// the last poll — on a busy host, requests already sent (a POST then 502s).
		await new Promise(resolve => setImmediate(resolve));
		service.logger.info("Draining HTTP connections: no new connection is accepted.");
		// net.Server#close stops listening and resolves when the last connection
		// has ended; http.Server#close would also cut the idle keep-alive ones.
		const closed = new Promise<void>(resolve => NetServer.prototype.close.call(server, () => resolve()));
		const cut = setTimeout(() => {
			service.logger.warn(`HTTP drain timed out after ${opts.timeoutMs} ms: closing the remaining connections.`);
			server.closeAllConnections();
		}, opts.timeoutMs);
		await closed;
		clearTimeout(cut);
		service.logger.info(`HTTP connections drained in ${Date.now() - started} ms.`);
	}

	service.broker.middlewares.add({ name: "GatewayDrain", stopping: drain });
}
