import "moleculer";

declare module "moleculer" {
	/**
	 * Which gateway route serves an action; each route applies its own body
	 * parsing, rate limit, authentication and authorization.
	 * - `open`: no body, no rate limit (greeting, probes, the OpenAPI document);
	 * - `login`: JSON body, the stricter sign-in limit;
	 * - `public`: JSON body, the global limit, no token;
	 * - `authenticated`: JSON body, the global limit, a bearer token;
	 * - `admin`: no body, the global limit, a bearer token of an admin.
	 */
	type HttpRouteGroup = "open" | "login" | "public" | "authenticated" | "admin";

	/**
	 * How the gateway serves an action declared with `rest: "METHOD /path"`.
	 * The gateway reads it from the registry (local or remote action alike), so
	 * a route, its status and its documentation are written once, here.
	 */
	interface ActionHttp {
		route: HttpRouteGroup;
		/** Success status; 200 when absent. */
		status?: 200 | 201 | 204;
		/** With 201: the created resource's path, `{field}` taken from the answer (`/users/{id}`). */
		location?: string;
		/** Status of an answer whose `status` field is not `"ok"` (health bodies). */
		downStatus?: 503;
		/** A retried request with the same `Idempotency-Key` gets the first answer again (idempotency.ts). */
		idempotencyKey?: boolean;
		/** The answer names the node that did the work (`X-Served-By`). */
		servedBy?: boolean;
		/** OpenAPI: one line, and the rest. */
		summary: string;
		description?: string;
		/** OpenAPI tag: the gateway's (`service`, `auth`, `cluster`) or one of the service's `metadata.openapi.tags`. */
		tag: string;
		/** Who may call it, when finer than the route (`self or admin`). */
		access?: string;
		/** OpenAPI component schema of the success body: the gateway's, or one of a service's `metadata.openapi.schemas`. */
		schema?: string;
		/** Error statuses it answers besides the 429/503/504 of every route. */
		errors?: number[];
	}

	interface ActionSchema {
		http?: ActionHttp;
	}

	/**
	 * What a service adds to the gateway's OpenAPI document, as its
	 * `metadata.openapi`: service metadata travels in the registry to every
	 * node, so the gateway documents the shapes of the services that run,
	 * from those services, with no import of their code.
	 */
	interface ServiceOpenApi {
		/** Tags its actions' `http.tag` name, with a description. */
		tags?: { name: string; description: string }[];
		/** Component schemas (JSON Schema 2020-12, as OpenAPI 3.1 reads it) its actions' `http.schema` name. */
		schemas?: Record<string, Record<string, unknown>>;
	}

	/* eslint-disable @typescript-eslint/no-explicit-any -- the defaults must equal Moleculer's to merge */
	interface ServiceSchema<
		TSettings = ServiceSettingSchema,
		TMethods = Record<string, any>,
		TVars = Record<string, any>,
		TThis = Service<TSettings> & TVars & TMethods
	> {
		/** Moleculer calls it once the mixins are merged, before the service reads its settings; its typings omit it. */
		merged?: (this: TThis, schema: ServiceSchema<TSettings, TMethods, TVars, TThis>) => void;
	}
	/* eslint-enable @typescript-eslint/no-explicit-any */
}
