import type { AddressInfo, Server } from "node:net";
import { ServiceBroker, type Service } from "moleculer";
import ApiService from "../../services/api.service";
import { readFileSync } from "node:fs";
import path from "node:path";
import { operationKey, paramsToSchema, ruleToSchema } from "../../services/api/openapi";
import UsersService from "../../services/users.service";
import { USERS_OPENAPI } from "../../services/users/openapi";
import { email as emailRule, name as nameRule } from "../../services/users/rules";
import { http } from "../support/node-process";

interface OpenApiDoc {
	openapi: string;
	paths: Record<string, Record<string, Operation>>;
	components: { schemas: Record<string, unknown>; responses: Record<string, unknown> };
}
interface Operation {
	"x-moleculer-action": string;
	parameters?: { name: string; in: string; required: boolean; schema: Record<string, unknown> }[];
	requestBody?: { content: { "application/json": { schema: Record<string, unknown> } } };
	responses: Record<string, unknown>;
	security?: unknown[];
}
interface AliasInfo {
	actionName: string;
	fullPath: string;
	methods: string;
}

describe("GET /openapi.json", () => {
	let broker: ServiceBroker;
	let baseUrl: string;
	let doc: OpenApiDoc;

	beforeAll(async () => {
		broker = new ServiceBroker({ logger: false });
		broker.createService({ ...ApiService, settings: { ...ApiService.settings, port: 0, ip: "127.0.0.1" } });
		broker.createService({ ...UsersService, settings: { ...UsersService.settings, redisUrl: undefined } });
		await broker.start();
		const { port } = (
			broker.getLocalService("api") as Service & { server: Server }
		).server.address() as AddressInfo;
		baseUrl = `http://127.0.0.1:${port}`;
		const res = await http<OpenApiDoc>(`${baseUrl}/openapi.json`);
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
		doc = res.body;
	});
	afterAll(() => broker.stop());

	it("is an OpenAPI 3.1 document", () => {
		expect(doc.openapi).toBe("3.1.0");
		expect(Object.keys(doc.paths).length).toBeGreaterThan(0);
	});

	it("describes every route the gateway serves, with the action behind it", async () => {
		const aliases = await broker.call<AliasInfo[], object>("api.listAliases", {});
		const served = aliases.filter(a => a.actionName).map(a => [operationKey(a.methods, a.fullPath), a.actionName]);
		expect(served.length).toBeGreaterThanOrEqual(10);
		for (const [key, action] of served) {
			const [method, path] = key.split(" ");
			expect({ key, action: doc.paths[path]?.[method.toLowerCase()]?.["x-moleculer-action"] }).toEqual({
				key,
				action
			});
		}
	});

	it("documents no route the gateway does not serve", async () => {
		const aliases = await broker.call<AliasInfo[], object>("api.listAliases", {});
		const served = new Set(aliases.map(a => operationKey(a.methods, a.fullPath)));
		const documented = Object.entries(doc.paths).flatMap(([p, ops]) =>
			Object.keys(ops).map(m => `${m.toUpperCase()} ${p}`)
		);
		expect(documented.filter(key => !served.has(key))).toEqual([]);
	});

	it("matches the README's route table, both ways", () => {
		const readme = readFileSync(path.join(__dirname, "..", "..", "README.md"), "utf8");
		const section = readme.slice(
			readme.indexOf("## REST API"),
			readme.indexOf("\n## ", readme.indexOf("## REST API") + 1)
		);
		const inReadme = [...section.matchAll(/^\| `(GET|POST|PATCH|PUT|DELETE) (\/[^`]*)` \|/gm)]
			.map(m => operationKey(m[1], m[2]))
			.sort();
		const documented = Object.entries(doc.paths)
			.flatMap(([p, ops]) => Object.keys(ops).map(m => `${m.toUpperCase()} ${p}`))
			.sort();
		expect(inReadme.length).toBeGreaterThan(0);
		expect(inReadme).toEqual(documented);
	});

	it("takes the sign-up body from users.register's params", () => {
		const schema = doc.paths["/users"].post.requestBody?.content["application/json"].schema;
		expect(schema).toEqual({
			type: "object",
			properties: {
				email: {
					type: "string",
					maxLength: 254,
					pattern: emailRule.pattern.source
				},
				name: {
					type: "string",
					minLength: 1,
					maxLength: 100,
					pattern: nameRule.pattern.source
				},
				password: { type: "string", minLength: 8, maxLength: 128 }
			},
			required: ["email", "name", "password"],
			additionalProperties: false
		});
	});

	it("takes the list's query parameters from users.list's params, and the id from the path", () => {
		const list = doc.paths["/users"].get.parameters ?? [];
		expect(list.find(p => p.name === "pageSize")).toEqual({
			name: "pageSize",
			in: "query",
			required: false,
			schema: { type: "integer", minimum: 1, maximum: 100, default: 20 }
		});
		expect(list.find(p => p.name === "q")?.schema).toEqual({ type: "string", maxLength: 100 });
		const get = doc.paths["/users/{id}"].get.parameters ?? [];
		expect(get).toEqual([{ name: "id", in: "path", required: true, schema: { type: "string", format: "uuid" } }]);
	});

	it("marks protected routes with the bearer scheme and lists their error answers", () => {
		expect(doc.paths["/users"].get.security).toEqual([{ bearer: [] }]);
		expect(doc.paths["/users"].post.security).toBeUndefined();
		expect(Object.keys(doc.paths["/users"].post.responses)).toEqual(
			expect.arrayContaining(["201", "409", "422", "429"])
		);
		for (const [path, ops] of Object.entries(doc.paths)) {
			for (const [method, op] of Object.entries(ops)) {
				for (const res of Object.values(op.responses) as { $ref?: string }[]) {
					if (res.$ref) {
						const name = res.$ref.split("/").pop() as string;
						expect({ at: `${method} ${path}`, name, known: name in doc.components.responses }).toEqual({
							at: `${method} ${path}`,
							name,
							known: true
						});
					}
				}
			}
		}
	});
	it("takes answer shapes and tags from the running services' metadata, and every $ref resolves", () => {
		expect(doc.components.schemas.User).toEqual(USERS_OPENAPI.schemas?.User);
		expect(doc.components.schemas.UserPage).toEqual(USERS_OPENAPI.schemas?.UserPage);
		expect((doc as unknown as { tags: { name: string }[] }).tags.map(t => t.name)).toEqual([
			"service",
			"auth",
			"cluster",
			"users"
		]);
		const get = doc.paths["/users/{id}"].get.responses["200"];
		expect(get).toMatchObject({
			content: { "application/json": { schema: { $ref: "#/components/schemas/User" } } }
		});
		expect(unresolvedRefs(doc)).toEqual([]);
	});
});

/** `$ref`s to component schemas that the document does not define. */
function unresolvedRefs(doc: { components: { schemas: Record<string, unknown> } }): string[] {
	const refs = [...JSON.stringify(doc).matchAll(/"#\/components\/schemas\/([^"]+)"/g)].map(m => m[1]);
	return [...new Set(refs)].filter(name => !(name in doc.components.schemas));
}

describe("GET /openapi.json of a gateway with no users node", () => {
	it("documents the gateway's routes only, and the users shapes they refer to as not declared now", async () => {
		const broker = new ServiceBroker({ logger: false });
		broker.createService({ ...ApiService, settings: { ...ApiService.settings, port: 0, ip: "127.0.0.1" } });
		await broker.start();
		try {
			const { port } = (
				broker.getLocalService("api") as Service & { server: Server }
			).server.address() as AddressInfo;
			const res = await http<OpenApiDoc & { tags: { name: string }[] }>(`http://127.0.0.1:${port}/openapi.json`);
			expect(res.status).toBe(200);
			expect(res.body.tags.map(t => t.name)).toEqual(["service", "auth", "cluster"]);
			expect(Object.keys(res.body.paths)).not.toContain("/users");
			expect(res.body.components.schemas.User).toEqual({
				type: "object",
				description: "Declared by a service that no node runs now"
			});
			expect(unresolvedRefs(res.body)).toEqual([]);
		} finally {
			await broker.stop();
		}
	});
});

describe("fastest-validator rules as JSON Schema", () => {
	it("reads the string shorthand", () => {
		expect(ruleToSchema("string|min:3|max:10|optional")).toEqual({ type: "string", minLength: 3, maxLength: 10 });
		expect(paramsToSchema({ a: "number|integer", b: "boolean|optional" })).toEqual({
			type: "object",
			properties: { a: { type: "integer" }, b: { type: "boolean" } },
			required: ["a"]
		});
	});

	it("maps enums, nested objects and arrays", () => {
		expect(ruleToSchema({ type: "enum", values: ["user", "admin"] })).toEqual({ enum: ["user", "admin"] });
		expect(
			ruleToSchema({ type: "array", items: { type: "object", props: { id: { type: "uuid" } }, strict: true } })
		).toEqual({
			type: "array",
			items: {
				type: "object",
				properties: { id: { type: "string", format: "uuid" } },
				required: ["id"],
				additionalProperties: false
			}
		});
	});
});
