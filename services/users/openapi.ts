import type { ServiceOpenApi } from "moleculer";

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/**
 * The users service's part of the gateway's OpenAPI document (its
 * `metadata.openapi`): the bodies its actions answer, as JSON Schema. `User`
 * is `PublicUser` (types.ts), `UserPage` is `UserPage`, `UsersHealth` is
 * `UsersHealth`; the gateway's own answers that carry a user refer to `User`.
 */
export const USERS_OPENAPI: ServiceOpenApi = {
	tags: [{ name: "users", description: "User management" }],
	schemas: {
		User: {
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
		},
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
		}
	}
};
