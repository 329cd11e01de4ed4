import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { waitFor } from "./redis-server";

export const ROOT = path.resolve(__dirname, "..", "..");
/** The entry `npm start` runs (built by the global setup). */
export const MAIN = path.join(ROOT, "dist", "src", "main.js");

/** A fresh namespace, so each test file has its own cluster and Redis keys. */
export function uniqueNamespace(label: string): string {
	return `test-${label}-${randomBytes(4).toString("hex")}`;
}

export interface NodeProcess {
	nodeID: string;
	process: ChildProcess;
	/** Everything the node printed so far. */
	output(): string;
	/** Sends `signal` and waits for the exit; resolves the exit code. */
	stop(signal?: NodeJS.Signals): Promise<number | null>;
	exited: Promise<number | null>;
}

export interface NodeOptions {
	services: string;
	nodeID: string;
	env: Record<string, string | undefined>;
	args?: string[];
}

/** Starts one node the way the README does: `SERVICES=… REDIS_URL=… node dist/src/main.js`. */
export function startNode(opts: NodeOptions): NodeProcess {
	const child = spawn(process.execPath, [MAIN, ...(opts.args ?? [])], {
		cwd: ROOT,
		env: {
			PATH: process.env.PATH,
			HOME: process.env.HOME,
			LOG_FORMAT: "json",
			LOGLEVEL: "info",
			...opts.env,
			SERVICES: opts.services,
			NODEID: opts.nodeID
		},
		stdio: ["pipe", "pipe", "pipe"]
	});
	let out = "";
	child.stdout?.on("data", chunk => (out += chunk));
	child.stderr?.on("data", chunk => (out += chunk));
	const exited = new Promise<number | null>(resolve => child.once("exit", code => resolve(code)));
	return {
		nodeID: opts.nodeID,
		process: child,
		output: () => out,
		exited,
		async stop(signal: NodeJS.Signals = "SIGTERM") {
			if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
			child.kill(signal);
			return exited;
		}
	};
}

export interface HttpResult<T = unknown> {
	status: number;
	headers: Headers;
	body: T;
	text: string;
}

/** One HTTP request; the body is parsed as JSON when it is JSON. */
export async function http<T = unknown>(
	url: string,
	init: RequestInit & { json?: unknown } = {}
): Promise<HttpResult<T>> {
	const { json, ...rest } = init;
	const headers = new Headers(rest.headers);
	if (json !== undefined) headers.set("content-type", "application/json");
	const res = await fetch(url, {
		...rest,
		headers,
		body: json !== undefined ? JSON.stringify(json) : rest.body,
		signal: rest.signal ?? AbortSignal.timeout(10_000)
	});
	const text = await res.text();
	let body: unknown = text;
	if (res.headers.get("content-type")?.includes("application/json") && text) body = JSON.parse(text);
	return { status: res.status, headers: res.headers, body: body as T, text };
}

/** Waits until the gateway at `baseUrl` reports health 200 with `users` instances up. */
export function waitForHealthy(baseUrl: string, instances = 1, timeoutMs = 20_000): Promise<unknown> {
	return waitFor(
		async () => {
			const res = await http<{ checks: { users: { instances: number } } }>(`${baseUrl}/health`);
			return res.status === 200 && res.body.checks.users.instances === instances ? res.body : false;
		},
		{ timeoutMs, intervalMs: 200, what: `${baseUrl}/health with ${instances} users instance(s)` }
	);
}

/**
 * Waits out the end of a rate-limit window (fixed windows aligned on the
 * clock, `windowMs` long) when fewer than `marginMs` are left in it, so a test
 * counting a budget runs inside one window.
 */
export async function awayFromWindowEdge(windowMs: number, marginMs = 15_000): Promise<void> {
	const left = windowMs - (Date.now() % windowMs);
	if (left < marginMs) await new Promise(r => setTimeout(r, left + 100));
}
