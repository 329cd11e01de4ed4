import { Errors, ServiceBroker, type Context } from "moleculer";
import UsersService from "../../services/users.service";
import { rejection, waitFor } from "../support/redis-server";
import type { PublicUser, UserPage } from "../../services/users/types";

/** An in-process broker with the users service on the in-memory store. */
function makeBroker() {
	const broker = new ServiceBroker({ logger: false, cacher: "MemoryLRU" });
	broker.createService({ ...UsersService, settings: { ...UsersService.settings, redisUrl: undefined } });
	const events: { name: string; payload: unknown }[] = [];
	broker.createService({
		name: "spy",
		events: {
			"user.*"(ctx: Context<unknown>) {
				events.push({ name: ctx.eventName ?? "", payload: ctx.params });
			}
		}
	});
	return { broker, events };
}

const alice = { email: "  Alice@Example.COM ", name: "Alice", password: "correct horse" };

describe("users service (in-process, memory store)", () => {
	let broker: ServiceBroker;
	let events: { name: string; payload: unknown }[];

	beforeEach(async () => {
		({ broker, events } = makeBroker());
		await broker.start();
	});
	afterEach(() => broker.stop());

	describe("users.register", () => {
		it("creates a user with role user, a normalised email and no password hash", async () => {
			const user = await broker.call<PublicUser, typeof alice>("users.register", alice);
			expect(user).toEqual({
				id: expect.stringMatching(/^[0-9a-f-]{36}$/),
				email: "alice@example.com",
				name: "Alice",
				role: "user",
				createdAt: expect.any(String),
				updatedAt: user.createdAt
			});
			expect(JSON.stringify(user)).not.toMatch(/scrypt|password/i);
		});

		it("rejects a role field (strict schema) with 422 and stores nothing", async () => {
			const err = await rejection(broker.call("users.register", { ...alice, role: "admin" }));
			expect(err).toBeInstanceOf(Errors.ValidationError);
			expect(err.code).toBe(422);
			expect(err.data).toEqual([expect.objectContaining({ type: "objectStrict", actual: "role" })]);
			expect(await broker.call("users.count")).toBe(0);
		});

		it("answers 409 EMAIL_TAKEN when the email exists, whatever its case", async () => {
			await broker.call("users.register", alice);
			const err = await rejection(broker.call("users.register", { ...alice, email: "ALICE@example.com" }));
			expect(err).toMatchObject({ code: 409, type: "EMAIL_TAKEN", name: "EmailTakenError" });
			expect(await broker.call("users.count")).toBe(1);
		});

		it("reports every failing field at once", async () => {
			const err = await rejection(broker.call("users.register", { email: "nope", name: "", password: "short" }));
			expect(err.code).toBe(422);
			const fields = [...new Set((err.data as { field: string }[]).map(d => d.field))].sort();
			expect(fields).toEqual(["email", "name", "password"]);
		});

		it.each([
			["a Kelvin sign in the email (it lower-cases to k)", { email: "kate@example.\u212Aom" }, "email"],
			["a leading newline in the name (a trim removes it)", { name: "\nAdministrator" }, "name"],
			["a trailing tab in the name", { name: "Alice\t" }, "name"],
			["a name of spaces only", { name: "   " }, "name"]
		])("checks the raw input: refuses %s", async (_what, change, field) => {
			const err = await rejection(broker.call("users.register", { ...alice, ...change }));
			expect(err).toBeInstanceOf(Errors.ValidationError);
			expect((err.data as { field: string }[]).map(d => d.field)).toEqual([field]);
			expect(await broker.call("users.count")).toBe(0);
		});

		it("emits user.created after the write", async () => {
			const user = await broker.call<PublicUser, typeof alice>("users.register", alice);
			await waitFor(() => events.length > 0);
			expect(events).toEqual([{ name: "user.created", payload: user }]);
		});
	});

	describe("users.create", () => {
		it("may set the admin role", async () => {
			const admin = await broker.call<PublicUser, object>("users.create", { ...alice, role: "admin" });
			expect(admin.role).toBe("admin");
		});
	});

	describe("users.get", () => {
		it("returns the user and 404 USER_NOT_FOUND for an unknown id", async () => {
			const user = await broker.call<PublicUser, typeof alice>("users.register", alice);
			expect(await broker.call("users.get", { id: user.id })).toEqual(user);
			const err = await rejection(broker.call("users.get", { id: "6f1c1c52-5b6e-4a59-9d43-2f3a2b1c0d9e" }));
			expect(err).toMatchObject({ code: 404, type: "USER_NOT_FOUND" });
		});

		it("answers 422 for an id that is not a UUID", async () => {
			const err = await rejection(broker.call("users.get", { id: "1 OR 1=1" }));
			expect(err.code).toBe(422);
		});
	});

	describe("users.list", () => {
		it("pages with defaults and converts query strings", async () => {
			for (let i = 0; i < 5; i++) {
				await broker.call("users.register", {
					email: `p${i}@example.com`,
					name: `Person ${i}`,
					password: "password1"
				});
			}
			const page = await broker.call<UserPage, object>("users.list", { page: "2", pageSize: "2" });
			expect(page).toMatchObject({ total: 5, page: 2, pageSize: 2, totalPages: 3 });
			expect(page.rows.map(u => u.email)).toEqual(["p2@example.com", "p3@example.com"]);
			const all = await broker.call<UserPage, object>("users.list", {});
			expect(all).toMatchObject({ total: 5, page: 1, pageSize: 20, totalPages: 1 });
		});

		it("filters by prefix of name or email, case-insensitively", async () => {
			await broker.call("users.register", alice);
			await broker.call("users.register", { email: "zed@example.com", name: "Ymir", password: "password1" });
			const list = (q: string) => broker.call<UserPage, object>("users.list", { q });
			const both = await list("ALI");
			expect({ names: both.rows.map(u => u.name), total: both.total }).toEqual({ names: ["Alice"], total: 1 });
			const byName = await list("yM");
			expect({ emails: byName.rows.map(u => u.email), total: byName.total }).toEqual({
				emails: ["zed@example.com"],
				total: 1
			});
			const byEmail = await list("ZED");
			expect({ names: byEmail.rows.map(u => u.name), total: byEmail.total }).toEqual({
				names: ["Ymir"],
				total: 1
			});
		});

		it("refuses a page size above 100", async () => {
			const err = await rejection(broker.call("users.list", { pageSize: 101 }));
			expect(err.code).toBe(422);
		});
	});

	describe("users.update", () => {
		it("changes the name and serves the change despite the cache", async () => {
			const user = await broker.call<PublicUser, typeof alice>("users.register", alice);
			await broker.call("users.get", { id: user.id }); // cached now
			const updated = await broker.call<PublicUser, object>("users.update", { id: user.id, name: "Alicia" });
			expect(updated.name).toBe("Alicia");
			expect(await broker.call("users.get", { id: user.id })).toEqual(updated);
			await waitFor(() => events.length > 1);
			expect(events.map(e => e.name)).toEqual(["user.created", "user.updated"]);
		});

		it("answers 409 when the new email belongs to someone else, leaving both unchanged", async () => {
			const a = await broker.call<PublicUser, typeof alice>("users.register", alice);
			const b = await broker.call<PublicUser, object>("users.register", {
				email: "b@example.com",
				name: "B",
				password: "password1"
			});
			const err = await rejection(broker.call("users.update", { id: b.id, email: a.email }));
			expect(err.code).toBe(409);
			expect(await broker.call("users.get", { id: b.id })).toEqual(b);
		});
	});

	describe("users.remove", () => {
		it("deletes, emits user.removed, then answers 404", async () => {
			const user = await broker.call<PublicUser, typeof alice>("users.register", alice);
			await broker.call("users.get", { id: user.id });
			await broker.call("users.remove", { id: user.id });
			const err = await rejection(broker.call("users.get", { id: user.id }));
			expect(err.type).toBe("USER_NOT_FOUND");
			expect(await broker.call("users.count")).toBe(0);
			const again = await rejection(broker.call("users.remove", { id: user.id }));
			expect(again.code).toBe(404);
		});
	});

	describe("users.health", () => {
		it("reports the memory store as reachable with this nodeID", async () => {
			expect(await broker.call("users.health")).toEqual({
				status: "ok",
				nodeID: broker.nodeID,
				store: { kind: "memory", reachable: true, latencyMs: 0 }
			});
		});
	});
});
