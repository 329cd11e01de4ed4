/**
 * The OpenAPI 3.1 description of the gateway, built from what runs: the
 * aliases moleculer-web generated from the registry, and for each the action's
 * `http` declaration (summary, status, errors) and fastest-validator `params`.
 * A route is described where it is declared, on its action.
 */

import { readFileSync } from "node:fs";
import path from "node:path";
import type { ActionHttp, ServiceOpenApi } from "moleculer";
import { PROJECT_ROOT } from "../../src/paths";

type JsonSchema = Record<string, unknown>;

/** A fastest-validator rule: an object, or the `"type|opt:val"` shorthand. */
type Rule = Record<string, unknown> | string | boolean;
export type ParamsSchema = Record<string, Rule>;

/** One alias of the gateway and the action behind it, as the registry holds it. */
export interface RoutedAction {
	/** `GET`, `POST`… */
	method: string;
	/** moleculer-web's full path: `/users/:id`. */
	path: string;
	action: { name: string; params?: ParamsSchema | object; http?: ActionHttp };
}

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

/** The gateway's own answers; the services' come from their `metadata.openapi` (ServiceOpenApi). */
const SCHEMAS: Record<string, JsonSchema> = {
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

const SUCCESS: Record<number, string> = { 200: "OK", 201: "Created", 204: "No content" };

function headerRefs(names: string[]): Record<string, unknown> {
	return Object.fromEntries(names.map(h => [h, { $ref: `#/components/headers/${h}` }]));
}

const GATEWAY_TAGS = [
	{ name: "service", description: "Greeting, health and this document" },
	{ name: "auth", description: "Tokens" },
	{ name: "cluster", description: "The admin dashboard's data" }
];

/** Every `$ref` to a component schema in `value`: `#/components/schemas/User` → `User`. */
function schemaRefs(value: unknown, found = new Set<string>()): Set<string> {
	if (Array.isArray(value)) for (const v of value) schemaRefs(v, found);
	else if (value && typeof value === "object") {
		for (const [key, v] of Object.entries(value)) {
			if (key === "$ref" && typeof v === "string" && v.startsWith("#/components/schemas/")) {
				found.add(v.slice("#/components/schemas/".length));
			} else schemaRefs(v, found);
		}
	}
	return found;
}

/**
 * The components and tags of the document: the gateway's, then those of each
 * running service (the first to declare a name keeps it). A schema still
 * referred to but declared by no running service (the gateway's login answer
 * carries a `User` while no users node runs) is an open object that says so,
 * so every `$ref` of the document resolves.
 */
function mergeDeclarations(services: ServiceOpenApi[], paths: object) {
	const schemas: Record<string, JsonSchema> = { ...SCHEMAS };
	const tags = [...GATEWAY_TAGS];
	for (const service of services) {
		for (const [name, schema] of Object.entries(service.schemas ?? {})) schemas[name] ??= schema;
		for (const tag of service.tags ?? []) if (!tags.some(t => t.name === tag.name)) tags.push(tag);
	}
	for (const name of schemaRefs([paths, schemas])) {
		schemas[name] ??= { type: "object", description: "Declared by a service that no node runs now" };
	}
	return { schemas, tags };
}

/**
 * The OpenAPI 3.1 document of these routes: request schemas from the actions'
 * `params`, response schemas and tags from the gateway and from `services`
 * (the `metadata.openapi` of each running service).
 */
export function buildOpenApiDocument(opts: {
	version: string;
	serverUrl?: string;
	routes: RoutedAction[];
	services?: ServiceOpenApi[];
}): JsonSchema {
	const paths: Record<string, Record<string, unknown>> = {};
	const sorted = [...opts.routes].sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
	for (const route of sorted) {
		const doc = route.action.http;
		if (!doc) continue;
		const [method, path] = operationKey(route.method, route.path).split(" ");
		const pathParams = [...path.matchAll(/\{([^}]+)\}/g)].map(m => m[1]);
		const params = (route.action.params ?? {}) as ParamsSchema;
		const parameters: unknown[] = pathParams.map(name => ({
			name,
			in: "path",
			required: true,
			schema: params[name] !== undefined ? ruleToSchema(params[name]) : { type: "string" }
		}));
		const access = doc.access ?? (doc.route === "open" || doc.route === "login" ? "public" : doc.route);
		const operation: Record<string, unknown> = {
			operationId: route.action.name.replace(/\.(\w)/, (_m, c: string) => c.toUpperCase()),
			summary: doc.summary,
			tags: [doc.tag],
			"x-moleculer-action": route.action.name,
			"x-access": access
		};
		if (doc.description) operation.description = doc.description;
		if (method === "GET" || method === "DELETE") {
			const query = paramsToSchema(params, pathParams);
			const required = new Set((query.required as string[] | undefined) ?? []);
			for (const [name, schema] of Object.entries(query.properties as Record<string, JsonSchema>)) {
				parameters.push({ name, in: "query", required: required.has(name), schema });
			}
		} else {
			const schema = paramsToSchema(params, pathParams);
			operation.requestBody = {
				required: true,
				content: { "application/json": { schema }, "application/merge-patch+json": { schema } }
			};
		}
		if (doc.idempotencyKey) {
			parameters.push({
				name: "Idempotency-Key",
				in: "header",
				required: false,
				description: "Replays the first answer to a retried request",
				schema: { type: "string", maxLength: 128 }
			});
		}
		if (parameters.length) operation.parameters = parameters;
		if (doc.route === "authenticated" || doc.route === "admin") operation.security = [{ bearer: [] }];

		const status = doc.status ?? 200;
		const headers = [
			"X-Request-ID",
			...(doc.location ? ["Location"] : []),
			...(doc.servedBy ? ["X-Served-By"] : [])
		];
		const success: Record<string, unknown> = { description: SUCCESS[status], headers: headerRefs(headers) };
		if (doc.schema) success.content = { "application/json": { schema: ref(doc.schema) } };
		const responses: Record<string, unknown> = { [status]: success };
		if (doc.downStatus && doc.schema) {
			responses[doc.downStatus] = {
				description: "A check failed",
				content: { "application/json": { schema: ref(doc.schema) } }
			};
		}
		for (const code of [...(doc.errors ?? []), ...ALWAYS]) {
			responses[code] ??= { $ref: `#/components/responses/${ERROR_RESPONSES[code].name}` };
		}
		operation.responses = responses;
		(paths[path] ??= {})[method.toLowerCase()] = operation;
	}

	const { schemas, tags } = mergeDeclarations(opts.services ?? [], paths);
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
		tags,
		paths,
		components: {
			schemas,
			responses,
			headers: HEADERS,
			securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } }
		}
	};
}

let version: string | undefined;

/** The gateway's document for the routes it serves now and the services that run now. */
export function openApiDocument(routes: RoutedAction[], services: ServiceOpenApi[]): JsonSchema {
	version ??= (JSON.parse(readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")) as { version: string })
		.version;
	return buildOpenApiDocument({ version, routes, services });
}
