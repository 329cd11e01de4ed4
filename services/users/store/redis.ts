import type { Redis } from "ioredis";
import type { Logger } from "moleculer";
import { createRedisClient } from "../../../src/redis";
import { RedisScript } from "../../../src/redis-script";
import { EmailTakenError, StoreUnavailableError, UserNotFoundError } from "../errors";
import type { ListQuery, ListResult, NewUser, UserChanges, UserStore } from "./base";
import type { Role, UserRecord } from "../types";

/*
 * Keys (after the client's namespace prefix):
 *   user:<id>         hash   the record (plus `nameKey`, the lower-cased name)
 *   users:email       hash   email -> id, the unique index
 *   users:created     zset   id scored by a creation sequence: list order and pages
 *   users:lex:email   zset   "<email>\0<id>" at score 0: prefix search by ZRANGEBYLEX
 *   users:lex:name    zset   "<nameKey>\0<id>" at score 0
 *   users:seq         string the creation sequence
 * Every write that touches several of them is one Lua script, hence atomic;
 * so is the read of a page (its ids, their records and the total), so that a
 * page never contradicts its total while users are written.
 */
const K = {
	user: (id: string) => `user:${id}`,
	email: "users:email",
	created: "users:created",
	lexEmail: "users:lex:email",
	lexName: "users:lex:name",
	seq: "users:seq"
};

const CREATE = new RedisScript<number>(
	"usersCreate",
	6,
	`
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then return 0 end
local seq = redis.call('INCR', KEYS[6])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('ZADD', KEYS[3], seq, ARGV[1])
redis.call('ZADD', KEYS[4], 0, ARGV[2] .. '\\0' .. ARGV[1])
redis.call('ZADD', KEYS[5], 0, ARGV[3] .. '\\0' .. ARGV[1])
return 1`
);

const UPDATE = new RedisScript<number>(
	"usersUpdate",
	4,
	`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local id = ARGV[1]
local c = cjson.decode(ARGV[2])
local old = redis.call('HMGET', KEYS[1], 'email', 'nameKey')
if c.email and c.email ~= old[1] then
  local owner = redis.call('HGET', KEYS[2], c.email)
  if owner and owner ~= id then return 0 end
  redis.call('HDEL', KEYS[2], old[1])
  redis.call('HSET', KEYS[2], c.email, id)
  redis.call('ZREM', KEYS[3], old[1] .. '\\0' .. id)
  redis.call('ZADD', KEYS[3], 0, c.email .. '\\0' .. id)
  redis.call('HSET', KEYS[1], 'email', c.email)
end
if c.name then
  redis.call('ZREM', KEYS[4], old[2] .. '\\0' .. id)
  redis.call('ZADD', KEYS[4], 0, c.nameKey .. '\\0' .. id)
  redis.call('HSET', KEYS[1], 'name', c.name, 'nameKey', c.nameKey)
end
if c.role then redis.call('HSET', KEYS[1], 'role', c.role) end
if c.passwordHash then
  redis.call('HSET', KEYS[1], 'passwordHash', c.passwordHash)
  redis.call('HINCRBY', KEYS[1], 'tokenVersion', 1)
end
redis.call('HSET', KEYS[1], 'updatedAt', c.updatedAt)
return 1`
);

const REMOVE = new RedisScript<number>(
	"usersRemove",
	5,
	`
local old = redis.call('HMGET', KEYS[1], 'email', 'nameKey')
if not old[1] then return 0 end
local id = ARGV[1]
redis.call('DEL', KEYS[1])
redis.call('HDEL', KEYS[2], old[1])
redis.call('ZREM', KEYS[3], id)
redis.call('ZREM', KEYS[4], old[1] .. '\\0' .. id)
redis.call('ZREM', KEYS[5], old[2] .. '\\0' .. id)
return 1`
);

/*
 * A page in creation order: [total, {flat HGETALL of each row}].
 * ARGV: the full key prefix of user records, offset, last index.
 */
const PAGE = new RedisScript<[number, string[][]]>(
	"usersPage",
	1,
	`
local total = redis.call('ZCARD', KEYS[1])
local ids = redis.call('ZRANGE', KEYS[1], ARGV[2], ARGV[3])
local rows = {}
for i, id in ipairs(ids) do rows[i] = redis.call('HGETALL', ARGV[1] .. id) end
return {total, rows}`
);

/*
 * A page of the users whose email or name starts with a prefix, in creation
 * order: [total, {flat HGETALL of each row}]. Cost grows with the matches, not
 * with the number of users. ARGV: the full key prefix of user records, the
 * ZRANGEBYLEX bounds, offset, limit.
 */
const SEARCH = new RedisScript<[number, string[][]]>(
	"usersSearch",
	3,
	`
local seen, matches = {}, {}
for k = 1, 2 do
  for _, member in ipairs(redis.call('ZRANGEBYLEX', KEYS[k], ARGV[2], ARGV[3])) do
    local id = string.match(member, '%z([^%z]*)$')
    if id and not seen[id] then
      seen[id] = true
      local seq = redis.call('ZSCORE', KEYS[3], id)
      if seq then matches[#matches + 1] = {id, tonumber(seq)} end
    end
  end
end
table.sort(matches, function(a, b) return a[2] < b[2] end)
local rows = {}
local offset, limit = tonumber(ARGV[4]), tonumber(ARGV[5])
for i = offset + 1, math.min(offset + limit, #matches) do
  rows[#rows + 1] = redis.call('HGETALL', ARGV[1] .. matches[i][1])
end
return {#matches, rows}`
);

/** The highest byte: no UTF-8 string sorts after `prefix + 0xFF`. */
const LEX_END = Buffer.from([0xff]);

function toRecord(hash: Record<string, string>): UserRecord | null {
	if (!hash.id) return null;
	return {
		id: hash.id,
		email: hash.email,
		name: hash.name,
		role: hash.role as Role,
		createdAt: hash.createdAt,
		updatedAt: hash.updatedAt,
		passwordHash: hash.passwordHash,
		tokenVersion: Number(hash.tokenVersion ?? 0)
	};
}

/** An HGETALL reply as a flat array of field, value, field, value… */
function fromFlat(flat: string[]): Record<string, string> {
	const hash: Record<string, string> = {};
	for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i]] = flat[i + 1];
	return hash;
}

export class RedisUserStore implements UserStore {
	readonly kind = "redis";
	private readonly client: Redis;
	/** The full key prefix of user records, for the scripts that compute their keys. */
	private readonly userKeyPrefix: string;

	constructor(
		url: string,
		keyPrefix: string,
		private readonly logger: Logger
	) {
		this.client = createRedisClient({ url, keyPrefix, name: "users-store", logger });
		this.userKeyPrefix = `${keyPrefix}${K.user("")}`;
	}

	/** Runs a Redis operation; driver failures become a 503 without their text. */
	private async run<T>(op: () => Promise<T>): Promise<T> {
		try {
			return await op();
		} catch (err) {
			if (err instanceof UserNotFoundError || err instanceof EmailTakenError) throw err;
			this.logger.error("User store operation failed:", (err as Error).message);
			throw new StoreUnavailableError();
		}
	}

	get(id: string): Promise<UserRecord | null> {
		return this.run(async () => toRecord(await this.client.hgetall(K.user(id))));
	}

	findByEmail(email: string): Promise<UserRecord | null> {
		return this.run(async () => {
			const id = await this.client.hget(K.email, email);
			return id ? toRecord(await this.client.hgetall(K.user(id))) : null;
		});
	}

	create(user: NewUser): Promise<UserRecord> {
		const record: UserRecord = {
			id: user.id,
			email: user.email,
			name: user.name,
			role: user.role,
			passwordHash: user.passwordHash,
			createdAt: user.createdAt,
			updatedAt: user.createdAt,
			tokenVersion: 0
		};
		const nameKey = user.name.toLowerCase();
		const fields = Object.entries({ ...record, nameKey }).flat();
		return this.run(async () => {
			const created = await CREATE.run(
				this.client,
				[K.user(user.id), K.email, K.created, K.lexEmail, K.lexName, K.seq],
				[user.id, user.email, nameKey, ...fields]
			);
			if (created !== 1) throw new EmailTakenError(user.email);
			return record;
		});
	}

	update(id: string, changes: UserChanges): Promise<UserRecord> {
		const payload = {
			...changes,
			nameKey: changes.name != null ? changes.name.toLowerCase() : undefined
		};
		return this.run(async () => {
			const result = await UPDATE.run(
				this.client,
				[K.user(id), K.email, K.lexEmail, K.lexName],
				[id, JSON.stringify(payload)]
			);
			if (result === -1) throw new UserNotFoundError(id);
			if (result === 0) throw new EmailTakenError(changes.email ?? "");
			const updated = toRecord(await this.client.hgetall(K.user(id)));
			// Removed between the script and the read: same answer as before the script.
			if (!updated) throw new UserNotFoundError(id);
			return updated;
		});
	}

	remove(id: string): Promise<boolean> {
		return this.run(
			async () =>
				(await REMOVE.run(this.client, [K.user(id), K.email, K.created, K.lexEmail, K.lexName], [id])) === 1
		);
	}

	list({ offset, limit, prefix }: ListQuery): Promise<ListResult> {
		return this.run(async () => {
			const [total, flatRows] = prefix
				? await SEARCH.run(
						this.client,
						[K.lexEmail, K.lexName, K.created],
						[
							this.userKeyPrefix,
							`[${prefix}`,
							Buffer.concat([Buffer.from(`[${prefix}`), LEX_END]),
							offset,
							limit
						]
					)
				: await PAGE.run(this.client, [K.created], [this.userKeyPrefix, offset, offset + limit - 1]);
			const rows = flatRows.map(flat => toRecord(fromFlat(flat))).filter((u): u is UserRecord => u !== null);
			return { rows, total };
		});
	}

	count(): Promise<number> {
		return this.run(() => this.client.zcard(K.created));
	}

	async ping(): Promise<number> {
		const start = process.hrtime.bigint();
		await this.run(() => this.client.ping());
		return Number(process.hrtime.bigint() - start) / 1e6;
	}

	async close(): Promise<void> {
		try {
			await this.client.quit();
		} catch {
			this.client.disconnect();
		}
	}
}
