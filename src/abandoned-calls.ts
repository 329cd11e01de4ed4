import type { Context, Middleware, Service } from "moleculer";

/**
 * Releases the tracked context of a remote call that failed before its answer
 * came (a timeout, above all), so that a graceful stop does not wait for it.
 *
 * In Moleculer 0.15 the ErrorHandler middleware drops a failed remote call's
 * pending request (`transit.removePendingRequest`) without settling the
 * promise the transit returned for it. The ContextTracker, which sits between
 * the two, removes a context only when that promise settles: the context of
 * every timed-out call stays tracked, and a stopping node waits the whole
 * `tracking.shutdownTimeout` for it (then logs GracefulStopTimeoutError).
 *
 * Two halves: `RemoteCallSettler` (innermost) hands the transit's promise on
 * through one it can reject itself; `FailedCallReleaser` (registered outside
 * the Timeout) rejects that one with the call's error once the call failed.
 * A late answer then finds no pending request and is dropped, as before.
 */
const settlers = new WeakMap<Context, (err: unknown) => void>();

export const RemoteCallSettler: Middleware = {
	name: "RemoteCallSettler",
	remoteAction(next) {
		return function settleable(this: Service, ctx: Context) {
			const call = Promise.resolve(next.call(this, ctx));
			return new Promise((resolve, reject) => {
				settlers.set(ctx, reject);
				call.then(resolve, reject);
			});
		};
	}
};

export const FailedCallReleaser: Middleware = {
	name: "FailedCallReleaser",
	remoteAction(next) {
		return function releaseOnFailure(this: Service, ctx: Context) {
			return Promise.resolve(next.call(this, ctx)).then(
				res => {
					settlers.delete(ctx);
					return res;
				},
				err => {
					settlers.get(ctx)?.(err);
					settlers.delete(ctx);
					throw err;
				}
			);
		};
	}
};
