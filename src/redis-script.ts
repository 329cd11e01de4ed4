import type { Redis } from "ioredis";

export type ScriptArg = string | number | Buffer;

/**
 * A Lua script, written once at module level and run on any client. It goes
 * through ioredis's `defineCommand`: EVALSHA, and EVAL on NOSCRIPT (a Redis
 * restarted or flushed since), the script registered on a client's first use.
 * The KEYS get the client's `keyPrefix`, as every other command's keys do.
 */
export class RedisScript<R> {
	constructor(
		/** Command name on the client: unique among the scripts of a client. */
		readonly name: string,
		readonly numberOfKeys: number,
		readonly lua: string
	) {}

	run(client: Redis, keys: readonly string[], args: readonly ScriptArg[] = []): Promise<R> {
		if (keys.length !== this.numberOfKeys) {
			throw new Error(`Script ${this.name} takes ${this.numberOfKeys} key(s), got ${keys.length}.`);
		}
		const commands = client as unknown as Record<string, (...a: ScriptArg[]) => Promise<R>>;
		if (typeof commands[this.name] !== "function") {
			client.defineCommand(this.name, { numberOfKeys: this.numberOfKeys, lua: this.lua });
		}
		return commands[this.name](...keys, ...args);
	}
}
