import type { Context, Middleware, Service } from "moleculer";

/** `ctx.meta` key holding the nodeID that answered the last remote call. */
export const SERVED_BY = "servedBy";

export interface ServedByMeta {
	[SERVED_BY]?: string;
}

/**
 * Records which node answered a remote call. The transit sets `ctx.nodeID` to
 * the sender of the response, and the meta merges back into the caller's
 * context (retries share it), so the gateway can tell the client who served it
 * even when the answer came from that node's cache.
 */
export const ServedByMiddleware: Middleware = {
	name: "ServedBy",
	remoteAction(next) {
		return function servedBy(this: Service, ctx: Context<unknown, ServedByMeta>) {
			const mark = () => {
				if (ctx.nodeID) ctx.meta[SERVED_BY] = ctx.nodeID;
			};
			return Promise.resolve(next.call(this, ctx)).then(
				res => {
					mark();
					return res;
				},
				err => {
					mark();
					throw err;
				}
			);
		};
	}
};
