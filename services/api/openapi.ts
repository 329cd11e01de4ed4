/**
 * The OpenAPI 3.1 description of the gateway (SPEC §2). What each route means
 * is written once in `OPERATIONS`; what it accepts is derived from the
 * fastest-validator `params` of the action behind it, so a schema change in a
 * service shows up here without a second edit.
 */

import { readFileSync } from "node:fs";
import path from "node:path";
import { PROJECT_ROOT } from "../../src/paths";
import UsersService from "../users.service";

type JsonSchema = Record<string, unknown>;

/** A fastest-validator rule: an object, or the `"type|opt:val"` shorthand. */
type Rule = Record<string, unknown> | string | boolean;
export type ParamsSchema = Record<string, Rule>;

export type Access = "public" | "authenticated" | "self or admin" | "admin";

export interface OperationDoc {
	/** The action the alias calls. */
	action: string;
	summary: string;
	description?: string;
	access: Access;
	tag: "service" | "auth" | "users" | "cluster";
	success: { status: number; description: string; schema?: string; headers?: string[] };
	/** Error statuses this route answers, besides the 429/503/504 every route may give. */
	errors: number[];
}

/** Every route the gateway serves, as SPEC §2 lists them. Key: `METHOD /path`. */
export const OPERATIONS: Record<string, OperationDoc> = {
	"GET /": {
		action: "api.hello",
		summary: "Greeting, with the gateway node that answered",
		access: "public",
		tag: "service",
		success: { status: 200, description: "Hello world", schema: "Hello" },
		errors: []
	},
	"GET /health": {
		action: "api.health",
		summary: "Readiness: a users instance and its store answer",
		description:
			"503 with the same body when a check fails; the body tells which one and how many users instances are up.",
		access: "public",
		tag: "service",
		success: { status: 200, description: "Every check passed", schema: "GatewayHealth" },
		errors: []
	},
	"GET /health/live": {
		action: "api.live",
		summary: "Liveness: the gateway process runs",
		access: "public",
		tag: "service",
		success: { status: 200, description: "The process answers", schema: "Live" },
		errors: []
	},
	"GET /users/health": {
		action: "users.health",
		summary: "Health of one users node: store reachability and latency",
		description: "503 with the same body when the store is unreachable.",
		access: "public",
		tag: "service",
		success: { status: 200, description: "The store answers", schema: "UsersHealth", headers: ["X-Served-By"] },
		errors: []
	},
	"POST /users": {
		action: "users.register",
		summary: "Sign up (role is always `user`)",
		description: "An `Idempotency-Key` header replays the first answer to a retried request.",
		access: "public",
		tag: "users",
		success: { status: 201, description: "Created", schema: "User", headers: ["Location", "X-Served-By"] },
		errors: [400, 409, 413, 415, 422]
	},
	"POST /auth/login": {
		action: "api.login",
		summary: "Sign in: a bearer token for an email and password",
		description: "401 with the same message for an unknown email and a wrong password. Stricter rate limit.",
		access: "public",
		tag: "auth",
		success: { status: 200, description: "Signed in", schema: "LoginResult" },
		errors: [400, 401, 413, 415, 422]
	},
	"GET /auth/me": {
		action: "api.me",
		summary: "The signed-in user",
		access: "authenticated",
		tag: "auth",
		success: { status: 200, description: "The caller", schema: "User" },
		errors: [401]
	},
	"GET /users": {
		action: "users.list",
		summary: "A page of users, optionally those whose name or email starts with `q`",
		access: "authenticated",
		tag: "users",
		success: { status: 200, description: "One page", schema: "UserPage", headers: ["X-Served-By"] },
		errors: [401, 422]
	},
	"GET /users/{id}": {
		action: "users.get",
		summary: "One user",
		access: "authenticated",
		tag: "users",
		success: { status: 200, description: "The user", schema: "User", headers: ["X-Served-By"] },
		errors: [401, 404, 422]
	},
	"PATCH /users/{id}": {
		action: "users.update",
		summary: "Change name, email, password (role: admins only)",
		description: "Changing one's own email or password needs `currentPassword`.",
		access: "self or admin",
		tag: "users",
		success: { status: 200, description: "The updated user", schema: "User", headers: ["X-Served-By"] },
		errors: [400, 401, 403, 404, 409, 413, 415, 422]
	},
	"DELETE /users/{id}": {
		action: "users.remove",
		summary: "Delete a user; their tokens stop working",
		access: "self or admin",
		tag: "users",
		success: { status: 204, description: "Deleted", headers: ["X-Served-By"] },
		errors: [401, 403, 404, 422]
	},
	"GET /cluster": {
		action: "api.cluster",
		summary: "Nodes, their services, load, and how users requests spread over them",
		access: "admin",
		tag: "cluster",
		success: { status: 200, description: "The cluster as the dashboard draws it", schema: "ClusterView" },
		errors: [401, 403]
	},
	"GET /openapi.json": {
		action: "api.openapi",
		summary: "This document",
		access: "public",
		tag: "service",
		success: { status: 200, description: "OpenAPI 3.1 document", schema: "OpenApiDocument" },
		errors: []
	}
};

/** `GET /users/:id` (moleculer-web) → `GET /users/{id}` (OpenAPI). */
export function operationKey(method: string, path: string): string {
	const clean = `/${path}`.replace(/\/{2,}/g, "/").replace(/(.)\/$/, "$1");
	return `${method.toUpperCase()} ${clean.replace(/:([A-Za-z0-9_]+)/g, "{$1}")}`;
}

const SHORTHAND_BOOL = new Set([
	"optional",
	"integer",
	"positive",
	"negative",
	"empty",
	"convert",
	"normalize",
	"trim"
]);

/** `"string|min:3|optional"` → `{ type: "string", min: 3, optional: true }`. */
function expandRule(rule: Rule): Record<string, unknown> {
	if (typeof rule === "boolean") return { type: "any" };
	if (typeof rule !== "string") return rule;
	const [type, ...opts] = rule.split("|");
	const out: Record<string, unknown> = { type };
	for (const opt of opts) {
		const [key, value] = opt.split(":");
		if (value === undefined) out[key] = SHORTHAND_BOOL.has(key) ? true : key;
		else
			out[key] =
				value === "true"
					? true
					: value === "false"
						? false
						: Number.isNaN(Number(value))
							? value
							: Number(value);
	}
	return out;
}

function isOptional(rule: Rule): boolean {
	const r = expandRule(rule);
	return r.optional === true || r.default !== undefined;
}

/** One fastest-validator rule as JSON Schema (draft 2020-12, what OpenAPI 3.1 uses). */
export function ruleToSchema(rule: Rule): JsonSchema {
	const r = expandRule(rule);
	const s: JsonSchema = {};
	switch (r.type) {
		case "string":
			s.type = "string";
			if (typeof r.min === "number") s.minLength = r.min;
			if (typeof r.max === "number") s.maxLength = r.max;
			if (typeof r.length === "number") s.minLength = s.maxLength = r.length;
			if (r.pattern instanceof RegExp || typeof r.pattern === "string") {
				const pattern = r.pattern instanceof RegExp ? r.pattern.source : r.pattern;
				const changes = ["trim", "lowercase", "uppercase"].filter(k => r[k] === true);
				// The service normalises before it matches: a raw value may differ from the pattern.
				if (changes.length) s.description = `Normalised (${changes.join(", ")}), then must match /${pattern}/.`;
				else s.pattern = pattern;
			}
			if (Array.isArray(r.enum)) s.enum = r.enum;
			break;
		case "email":
			Object.assign(s, { type: "string", format: "email" });
			if (typeof r.max === "number") s.maxLength = r.max;
			break;
		case "uuid":
			Object.assign(s, { type: "string", format: "uuid" });
			break;
		case "url":
			Object.assign(s, { type: "string", format: "uri" });
			break;
		case "date":
			Object.assign(s, { type: "string", format: "date-time" });
			break;
		case "number":
			s.type = r.integer ? "integer" : "number";
			if (typeof r.min === "number") s.minimum = r.min;
			if (typeof r.max === "number") s.maximum = r.max;
			if (r.positive) s.exclusiveMinimum = 0;
			break;
		case "boolean":
			s.type = "boolean";
			break;
		case "enum":
			s.enum = r.values;
			break;
		case "equal":
			s.const = r.value;
			break;
		case "array":
			s.type = "array";
			if (r.items) s.items = ruleToSchema(r.items as Rule);
			if (typeof r.min === "number") s.minItems = r.min;
			if (typeof r.max === "number") s.maxItems = r.max;
			break;
		case "object":
			Object.assign(s, r.props ? paramsToSchema(r.props as ParamsSchema) : { type: "object" });
			if (r.strict === true || r.strict === "remove") s.additionalProperties = false;
			break;
		default:
			break;
	}
	if (r.default !== undefined && typeof r.default !== "function") s.default = r.default;
	return s;
}

/** A whole `params` object as a JSON Schema object; `$$strict` closes it. */
export function paramsToSchema(params: ParamsSchema, omit: string[] = []): JsonSchema {
	const properties: Record<string, JsonSchema> = {};
	const required: string[] = [];
	for (const [key, rule] of Object.entries(params)) {
		if (key.startsWith("$$") || omit.includes(key)) continue;
		properties[key] = ruleToSchema(rule);
		if (!isOptional(rule)) required.push(key);
	}
	const schema: JsonSchema = { type: "object", properties };
	if (required.length) schema.required = required;
	if (params.$$strict === true || params.$$strict === "remove") schema.additionalProperties = false;
	return schema;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

const USER: JsonSchema = {
	type: "object",
	required: ["id", "email", "name", "role", "createdAt", "updatedAt"],
	properties: {
		id: { type: "string", format: "uuid" },
		email: { type: "string", format: "email" },
		name: { type: "string" },
		role: { enum: ["user", "admin"] },
		createdAt: { type: "string", format: "date-time" },
		updatedAt: { type: "string", format: "date-time" }
	}
};

const SCHEMAS: Record<string, JsonSchema> = {
	User: USER,
	UserPage: {
		type: "object",
		required: ["rows", "total", "page", "pageSize", "totalPages"],
		properties: {
			rows: { type: "array", items: ref("User") },
			total: { type: "integer", minimum: 0 },
			page: { type: "integer", minimum: 1 },
			pageSize: { type: "integer", minimum: 1, maximum: 100 },
			totalPages: { type: "integer", minimum: 0 }
		}
	},
	LoginResult: {
		type: "object",
		required: ["token", "tokenType", "expiresIn", "user"],
		properties: {
			token: { type: "string", description: "JWT, sent back as `Authorization: Bearer <token>`" },
			tokenType: { const: "Bearer" },
			expiresIn: { type: "integer", description: "Seconds until the token expires" },
			user: ref("User")
		}
	},
	Error: {
		type: "object",
		required: ["name", "message", "code", "type"],
		properties: {
			name: { type: "string" },
			message: { type: "string" },
			code: { type: "integer", description: "The HTTP status" },
			type: { type: "string", description: "Stable SCREAMING_SNAKE error type, e.g. EMAIL_TAKEN" },
			data: { description: "Details: for 422 an array of ValidationItem" }
		}
	},
	ValidationItem: {
		type: "object",
		required: ["type", "field", "message"],
		properties: {
			type: { type: "string" },
			field: { type: "string" },
			message: { type: "string" },
			expected: {},
			actual: {}
		}
	},
	Hello: {
		type: "object",
		required: ["message", "service", "nodeID"],
		properties: { message: { const: "Hello world" }, service: { type: "string" }, nodeID: { type: "string" } }
	},
	Live: {
		type: "object",
		required: ["status", "nodeID"],
		properties: { status: { const: "ok" }, nodeID: { type: "string" } }
	},
	GatewayHealth: {
		type: "object",
		required: ["status", "nodeID", "checks"],
		properties: {
			status: { enum: ["ok", "down"] },
			nodeID: { type: "string" },
			checks: {
				type: "object",
				properties: {
					users: {
						type: "object",
						properties: { status: { enum: ["ok", "down"] }, instances: { type: "integer", minimum: 0 } }
					},
					store: {
						type: "object",
						properties: {
							status: { enum: ["ok", "down", "unknown"] },
							latencyMs: { type: ["number", "null"] }
						}
					}
				}
			}
		}
	},
	UsersHealth: {
		type: "object",
		required: ["status", "nodeID", "store"],
		properties: {
			status: { enum: ["ok", "down"] },
			nodeID: { type: "string" },
			store: {
				type: "object",
				required: ["kind", "reachable", "latencyMs"],
				properties: {
					kind: { enum: ["redis", "memory"] },
					reachable: { type: "boolean" },
					latencyMs: { type: ["number", "null"] },
					error: { type: "string" }
				}
			}
		}
	},
	ClusterNode: {
		type: "object",
		required: ["id", "hostname", "local", "available", "services", "cpu", "memory", "uptime", "client", "requests"],
		properties: {
			id: { type: "string" },
			hostname: { type: ["string", "null"] },
			local: { type: "boolean" },
			available: { type: "boolean" },
			services: { type: "array", items: { type: "string" } },
			cpu: { type: ["number", "null"], description: "Host CPU utilisation, percent, from heartbeats" },
			memory: {
				type: ["object", "null"],
				properties: {
					rss: { type: "integer" },
					heapUsed: { type: "integer" },
					hostUsedPercent: { type: "number" }
				}
			},
			uptime: { type: ["integer", "null"] },
			client: {
				type: "object",
				properties: { version: { type: ["string", "null"] }, langVersion: { type: ["string", "null"] } }
			},
			requests: { type: "integer", minimum: 0, description: "users requests this node served" }
		}
	},
	ClusterView: {
		type: "object",
		required: ["nodeID", "time", "nodes", "requests"],
		properties: {
			nodeID: { type: "string" },
			time: { type: "string", format: "date-time" },
			nodes: { type: "array", items: ref("ClusterNode") },
			requests: {
				type: "object",
				properties: {
					total: { type: "integer" },
					byNode: { type: "object", additionalProperties: { type: "integer" } },
					gateways: { type: "integer", description: "Gateways whose counts are summed" }
				}
			}
		}
	},
	OpenApiDocument: { type: "object", description: "An OpenAPI 3.1 document" }
};

const HEADERS: Record<string, JsonSchema> = {
	"X-Request-ID": {
		description: "Request ID, echoed or generated; joins the logs of every node",
		schema: { type: "string" }
	},
	"X-Served-By": { description: "nodeID of the users node that did the work", schema: { type: "string" } },
	Location: { description: "URL of the created resource", schema: { type: "string" } },
	"Retry-After": { description: "Seconds to wait before trying again", schema: { type: "integer" } },
	"WWW-Authenticate": { description: "`Bearer` challenge", schema: { type: "string" } }
};

const ERROR_RESPONSES: Record<number, { name: string; description: string; headers?: string[] }> = {
	400: { name: "BadRequest", description: "Malformed JSON body" },
	401: { name: "Unauthorized", description: "No, expired or invalid token", headers: ["WWW-Authenticate"] },
	403: { name: "Forbidden", description: "Not allowed for this user" },
	404: { name: "NotFound", description: "Unknown route or id" },
	409: { name: "Conflict", description: "Email already registered (EMAIL_TAKEN)" },
	413: { name: "PayloadTooLarge", description: "Body over the size limit" },
	415: { name: "UnsupportedMediaType", description: "Unsupported content type or encoding" },
	422: { name: "ValidationError", description: "Failed validation; `data` lists every failing field" },
	429: { name: "TooManyRequests", description: "Rate limited", headers: ["Retry-After"] },
	503: { name: "ServiceUnavailable", description: "No users instance, or its store is down" },
	504: { name: "GatewayTimeout", description: "A downstream service timed out" }
};
const ALWAYS = [429, 503, 504];

function headerRefs(names: string[]): Record<string, unknown> {
	return Object.fromEntries(names.map(h => [h, { $ref: `#/components/headers/${h}` }]));
}

/** The OpenAPI 3.1 document, with request schemas taken from the actions' `params`. */
export function buildOpenApiDocument(opts: {
	version: string;
	serverUrl?: string;
	/** `params` of the actions behind the routes, by full action name. */
	params: Record<string, ParamsSchema | undefined>;
}): JsonSchema {
	const paths: Record<string, Record<string, unknown>> = {};
	for (const [key, doc] of Object.entries(OPERATIONS)) {
		const [method, path] = key.split(" ");
		const pathParams = [...path.matchAll(/\{([^}]+)\}/g)].map(m => m[1]);
		const params = opts.params[doc.action] ?? {};
		const parameters: unknown[] = pathParams.map(name => ({
			name,
			in: "path",
			required: true,
			schema: params[name] !== undefined ? ruleToSchema(params[name]) : { type: "string" }
		}));
		const operation: Record<string, unknown> = {
			operationId: doc.action.replace(/\.(\w)/, (_m, c: string) => c.toUpperCase()),
			summary: doc.summary,
			tags: [doc.tag],
			"x-moleculer-action": doc.action,
			"x-access": doc.access
		};
		if (doc.description) operation.description = doc.description;
		if (method === "GET" || method === "DELETE") {
			const query = paramsToSchema(params, pathParams);
			const required = new Set((query.required as string[] | undefined) ?? []);
			for (const [name, schema] of Object.entries(query.properties as Record<string, JsonSchema>)) {
				parameters.push({ name, in: "query", required: required.has(name), schema });
			}
		} else {
			operation.requestBody = {
				required: true,
				content: { "application/json": { schema: paramsToSchema(params, pathParams) } }
			};
		}
		if (method === "POST" && path === "/users") {
			parameters.push({
				name: "Idempotency-Key",
				in: "header",
				required: false,
				description: "Replays the first answer to a retried sign-up",
				schema: { type: "string", maxLength: 128 }
			});
		}
		if (parameters.length) operation.parameters = parameters;
		if (doc.access !== "public") operation.security = [{ bearer: [] }];

		const success: Record<string, unknown> = {
			description: doc.success.description,
			headers: headerRefs(["X-Request-ID", ...(doc.success.headers ?? [])])
		};
		if (doc.success.schema) success.content = { "application/json": { schema: ref(doc.success.schema) } };
		const responses: Record<string, unknown> = { [doc.success.status]: success };
		if (key === "GET /health" || key === "GET /users/health") {
			responses[503] = {
				description: "A check failed",
				content: { "application/json": { schema: ref(doc.success.schema as string) } }
			};
		}
		for (const status of [...doc.errors, ...ALWAYS]) {
			responses[status] ??= { $ref: `#/components/responses/${ERROR_RESPONSES[status].name}` };
		}
		operation.responses = responses;
		(paths[path] ??= {})[method.toLowerCase()] = operation;
	}

	const responses = Object.fromEntries(
		Object.values(ERROR_RESPONSES).map(e => [
			e.name,
			{
				description: e.description,
				headers: headerRefs(["X-Request-ID", ...(e.headers ?? [])]),
				content: { "application/json": { schema: ref("Error") } }
			}
		])
	);

	return {
		openapi: "3.1.0",
		info: {
			title: "RNCP API",
			version: opts.version,
			description:
				"REST gateway of the RNCP Moleculer cluster. Errors keep moleculer-web's shape { name, message, code, type, data }."
		},
		...(opts.serverUrl ? { servers: [{ url: opts.serverUrl }] } : {}),
		tags: [
			{ name: "service", description: "Greeting, health and this document" },
			{ name: "auth", description: "Tokens" },
			{ name: "users", description: "User management" },
			{ name: "cluster", description: "The admin dashboard's data" }
		],
		paths,
		components: {
			schemas: SCHEMAS,
			responses,
			headers: HEADERS,
			securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } }
		}
	};
}

/** The part of a service schema the document reads. */
interface ServiceActions {
	name: string;
	actions?: object;
}

/** `params` of a service's actions, keyed by full action name. */
export function actionParams(service: ServiceActions): Record<string, ParamsSchema | undefined> {
	const out: Record<string, ParamsSchema | undefined> = {};
	for (const [name, action] of Object.entries(service.actions ?? {}) as [string, unknown][]) {
		if (action && typeof action === "object" && "params" in action) {
			out[`${service.name}.${name}`] = action.params as ParamsSchema | undefined;
		}
	}
	return out;
}

let cached: JsonSchema | undefined;

/** The gateway's document (built once): the users service's schemas plus the gateway's own. */
export function openApiDocument(gateway: ServiceActions): JsonSchema {
	if (!cached) {
		const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")) as { version: string };
		cached = buildOpenApiDocument({
			version: pkg.version,
			params: { ...actionParams(UsersService), ...actionParams(gateway) }
		});
	}
	return cached;
}
