/**
 * The gateway's client. Every type comes from the services themselves
 * (`import type`, erased from the bundle), so a contract change breaks this
 * build instead of the page.
 */
import type { ClusterView, LoginResult } from "../../services/api.service";
import type { ErrorBody } from "../../services/api/errors";
import type { UsersListParams, UsersRegisterParams, UsersUpdateParams } from "../../services/users.service";
import type { PublicUser, UserPage } from "../../services/users/types";
import type { WebConfig } from "../../services/www.service";
import { getSession } from "./session";

/** One failing field of a 422, as fastest-validator reports it. */
export interface FieldError {
	field: string;
	message: string;
	type?: string;
}

/** An answer with an error status, carrying the gateway's `{ name, message, code, type, data }`. */
export class ApiError extends Error {
	constructor(
		readonly status: number,
		readonly body: ErrorBody,
		/** Seconds from `Retry-After` (429), when given. */
		readonly retryAfter: number | null
	) {
		super(body.message);
		this.name = "ApiError";
	}

	get type(): string {
		return this.body.type;
	}

	/** The failing fields of a 422. */
	get fields(): FieldError[] {
		const data = this.body.data;
		if (this.status !== 422 || !Array.isArray(data)) return [];
		return data.filter(
			(item): item is FieldError =>
				!!item && typeof item === "object" && typeof (item as FieldError).field === "string"
		);
	}
}

/** The gateway could not be reached at all (offline, down, or refused by CORS). */
export class NetworkError extends Error {
	constructor(readonly apiUrl: string) {
		super(`Can't reach the API at ${apiUrl}.`);
		this.name = "NetworkError";
	}
}

export interface ApiAnswer<T> {
	data: T;
	/** `X-Served-By`: the users node that did the work. */
	servedBy: string | null;
	/** Answered by the service worker from its last copy because the network failed. */
	fromCache: boolean;
}

let apiUrl = "http://localhost:3001";
let onUnauthorized: (err: ApiError) => void = () => undefined;

export function getApiUrl(): string {
	return apiUrl;
}

/** Reads `/config.json` (the `www` service's, from `API_URL`). */
export async function loadConfig(): Promise<void> {
	const res = await fetch("/config.json", { headers: { Accept: "application/json" } });
	if (!res.ok) throw new Error(`/config.json answered ${res.status}`);
	const config = (await res.json()) as WebConfig;
	apiUrl = config.apiUrl.replace(/\/+$/, "");
}

/** Called when an authenticated call answers 401: the token expired or was revoked. */
export function setUnauthorizedHandler(handler: (err: ApiError) => void): void {
	onUnauthorized = handler;
}

function parseRetryAfter(value: string | null): number | null {
	if (!value) return null;
	const seconds = Number(value);
	if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
	const date = Date.parse(value);
	return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

interface RequestOptions {
	body?: unknown;
	query?: Record<string, string | number | undefined>;
	/** Send the session's token (default true). */
	auth?: boolean;
	headers?: Record<string, string>;
}

async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<ApiAnswer<T>> {
	const url = new URL(apiUrl + path);
	for (const [key, value] of Object.entries(opts.query ?? {})) {
		if (value !== undefined && value !== "") url.searchParams.set(key, String(value));
	}
	const headers: Record<string, string> = { Accept: "application/json", ...opts.headers };
	if (opts.body !== undefined) headers["Content-Type"] = "application/json";
	const session = opts.auth === false ? null : getSession();
	if (session) headers.Authorization = `Bearer ${session.token}`;

	let res: Response;
	try {
		res = await fetch(url, {
			method,
			headers,
			body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
			mode: "cors",
			credentials: "omit"
		});
	} catch {
		throw new NetworkError(apiUrl);
	}

	const isJson = res.headers.get("content-type")?.includes("json") ?? false;
	const payload: unknown =
		res.status === 204 ? undefined : isJson ? await res.json().catch(() => undefined) : undefined;
	if (!res.ok) {
		const body: ErrorBody =
			payload && typeof payload === "object" && "message" in payload
				? (payload as ErrorBody)
				: {
						name: "HttpError",
						message: res.statusText || `HTTP ${res.status}`,
						code: res.status,
						type: `HTTP_${res.status}`
					};
		const err = new ApiError(res.status, body, parseRetryAfter(res.headers.get("Retry-After")));
		if (res.status === 401 && session) onUnauthorized(err);
		throw err;
	}
	return {
		data: payload as T,
		servedBy: res.headers.get("X-Served-By"),
		fromCache: res.headers.get("X-Served-From-Cache") === "1"
	};
}

export const api = {
	register: (body: UsersRegisterParams, idempotencyKey: string) =>
		request<PublicUser>("POST", "/users", { body, auth: false, headers: { "Idempotency-Key": idempotencyKey } }),
	login: (email: string, password: string) =>
		request<LoginResult>("POST", "/auth/login", { body: { email, password }, auth: false }),
	me: () => request<PublicUser>("GET", "/auth/me"),
	listUsers: (query: Partial<UsersListParams>) => request<UserPage>("GET", "/users", { query: { ...query } }),
	getUser: (id: string) => request<PublicUser>("GET", `/users/${encodeURIComponent(id)}`),
	updateUser: (id: string, changes: Omit<UsersUpdateParams, "id">) =>
		request<PublicUser>("PATCH", `/users/${encodeURIComponent(id)}`, { body: changes }),
	removeUser: (id: string) => request<void>("DELETE", `/users/${encodeURIComponent(id)}`),
	cluster: () => request<ClusterView>("GET", "/cluster")
};

/** A sentence for the user about `err`, from the gateway's error body where there is one. */
export function describeError(err: unknown): string {
	if (err instanceof NetworkError) {
		return navigator.onLine
			? `${err.message} The gateway may be down; try again in a moment.`
			: "You are offline. This needs a connection to the API.";
	}
	if (!(err instanceof ApiError)) return "Something went wrong. Please try again.";
	switch (err.status) {
		case 401:
			return err.type === "INVALID_CREDENTIALS" ? err.body.message : "Please sign in again.";
		case 403:
			return err.type === "FORBIDDEN" && err.body.message && err.body.message !== "Forbidden"
				? err.body.message
				: "You are not allowed to do this.";
		case 404:
			return err.body.message || "Not found.";
		case 413:
			return "That is too much data to send at once.";
		case 422:
			return "Some fields need your attention.";
		case 429:
			return err.retryAfter != null
				? `Too many requests. Please wait ${err.retryAfter} second${err.retryAfter === 1 ? "" : "s"} and try again.`
				: "Too many requests. Please wait a moment and try again.";
		case 503:
			return "The service is unavailable right now (no users node answered). Please try again shortly.";
		case 504:
			return err.type === "OUTCOME_UNKNOWN"
				? "The service took too long to answer; it may still have done it. Please try again: a sign-up is not made twice."
				: "The service took too long to answer. Please try again.";
		default:
			return err.body.message || `The request failed (${err.status}).`;
	}
}
