import { createHash } from "node:crypto";
import type { ActionCacheOptions, ActionSchema, Context } from "moleculer";

/**
 * The cache key of an action call: `<action>:<sha256 of the JSON of the key
 * values>`. JSON quotes and escapes every string, so no two different inputs
 * share a key whatever they hold (Moleculer's default joins quoted values with
 * `|`, and a value holding `"|"` collides with another set of values). The
 * values are taken in the order of `cache.keys` (`#name` reads `ctx.meta`), or
 * all params with their keys sorted when the action lists none. The hash keeps
 * every key short, however long the values.
 */
export function cacheKey(action: ActionSchema, opts: ActionCacheOptions | undefined, ctx: Context): string {
	const c = ctx as Context<Record<string, unknown>, Record<string, unknown>>;
	const params = c.params ?? {};
	const values = opts?.keys
		? opts.keys.map(k => (k.startsWith("#") ? c.meta?.[k.slice(1)] : params[k]))
		: Object.keys(params)
				.sort()
				.map(k => [k, params[k]]);
	const digest = createHash("sha256").update(JSON.stringify(values)).digest("base64url");
	return `${action.name}:${digest}`;
}
