import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { ROOT, startNode, uniqueNamespace, waitForHealthy, http, type NodeProcess } from "../support/node-process";
import { freePort, waitFor } from "../support/redis-server";

/** Debian's Chromium (`apt-get install -y chromium`); never a browser downloaded by a test tool. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** What this machine's closed network and a root user need (see the machine notes). */
export const CHROMIUM_FLAGS = [
	"--headless",
	"--no-sandbox",
	"--disable-gpu",
	"--disable-quic",
	"--no-first-run",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync"
];

export const ARTIFACTS = path.join(ROOT, "test-artifacts");

export async function launchChromium(): Promise<Browser> {
	if (!existsSync(CHROMIUM)) {
		throw new Error(
			`Chromium is missing at ${CHROMIUM}. Install Debian's package: "apt-get install -y chromium" ` +
				"(or set CHROMIUM_PATH). The browser tests never download a browser."
		);
	}
	mkdirSync(ARTIFACTS, { recursive: true });
	return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
}

/**
 * A browser with a profile on disk, in a fresh temporary folder: Chromium only
 * judges installability outside incognito, which every `newContext()` is.
 */
export async function launchPersistentChromium(viewport: { width: number; height: number }): Promise<{
	context: BrowserContext;
	close(): Promise<void>;
}> {
	const dir = mkdtempSync(path.join(tmpdir(), "rncp-chromium-"));
	const context = await chromium.launchPersistentContext(dir, {
		executablePath: CHROMIUM,
		headless: true,
		args: CHROMIUM_FLAGS,
		viewport
	});
	return {
		context,
		async close() {
			await context.close();
			rmSync(dir, { recursive: true, force: true });
		}
	};
}

export interface PwaCluster {
	apiUrl: string;
	wwwUrl: string;
	admin: { email: string; password: string };
	nodes: Record<"gateway" | "users1" | "users2" | "www", NodeProcess>;
	/** What every node printed, for a failing test's message. */
	logs(): string;
	stop(): Promise<void>;
}

/**
 * The four processes of a real deployment, as the README starts them: a
 * gateway, two users nodes and the www node over the suite's private Redis,
 * in a namespace (and Redis key prefix) of their own.
 */
export async function startPwaCluster(label: string, env: Record<string, string> = {}): Promise<PwaCluster> {
	const redisUrl = process.env.TEST_REDIS_URL as string;
	const namespace = uniqueNamespace(label);
	const [apiPort, wwwPort] = [await freePort(), await freePort()];
	const apiUrl = `http://127.0.0.1:${apiPort}`;
	const wwwUrl = `http://127.0.0.1:${wwwPort}`;
	const admin = { email: `admin-${namespace}@example.test`, password: "admin-password-1" };
	const common = {
		REDIS_URL: redisUrl,
		NAMESPACE: namespace,
		LOGLEVEL: "warn",
		JWT_SECRET: `browser-test-secret-${namespace}-0123456789abcdef`,
		ADMIN_EMAIL: admin.email,
		ADMIN_PASSWORD: admin.password,
		...env
	};
	const suffix = namespace.slice(-8);
	const nodes = {
		gateway: startNode({
			services: "api",
			nodeID: `gw-${suffix}`,
			// Short windows: the 429 test waits one out.
			env: {
				...common,
				PORT: String(apiPort),
				CORS_ORIGINS: wwwUrl,
				RATE_LIMIT_WINDOW_MS: "5000",
				RATE_LIMIT_MAX: "10000",
				LOGIN_RATE_LIMIT_MAX: "8"
			}
		}),
		users1: startNode({ services: "users", nodeID: `users-1-${suffix}`, env: common }),
		users2: startNode({ services: "users", nodeID: `users-2-${suffix}`, env: common }),
		www: startNode({
			services: "www",
			nodeID: `www-${suffix}`,
			env: { ...common, WWW_PORT: String(wwwPort), API_URL: apiUrl }
		})
	};
	const logs = () =>
		Object.entries(nodes)
			.map(([name, n]) => `--- ${name}\n${n.output().slice(-3000)}`)
			.join("\n");
	const cluster: PwaCluster = {
		apiUrl,
		wwwUrl,
		admin,
		nodes,
		logs,
		async stop() {
			await Promise.all(Object.values(nodes).map(n => n.stop()));
			const client = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
			try {
				const keys = await client.keys(`${namespace}:*`);
				if (keys.length) await client.del(...keys);
			} finally {
				client.disconnect();
			}
		}
	};
	try {
		await waitForHealthy(apiUrl, 2, 45_000);
		await waitFor(async () => (await http(`${wwwUrl}/config.json`)).status === 200, {
			timeoutMs: 30_000,
			what: "the www node"
		});
	} catch (err) {
		await cluster.stop();
		throw new Error(`${(err as Error).message}\n${logs()}`);
	}
	return cluster;
}

interface AxeViolation {
	id: string;
	impact: string | null;
	help: string;
	nodes: { target: string[] }[];
}

let axeSource: string | undefined;

/**
 * The WCAG 2.1 A/AA rules of axe-core on the page as it is now: `[]` when it
 * passes, else one line per broken rule with the elements it found.
 * Evaluated through the DevTools protocol, so the page's CSP does not apply.
 */
export async function accessibilityViolations(page: Page): Promise<string[]> {
	axeSource ??= readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
	const violations = (await page.evaluate(
		`${axeSource}
		axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"], resultTypes: ["violations"] })
			.then(r => r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => ({ target: n.target })) })))`
	)) as AxeViolation[];
	return violations.map(v => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map(n => n.target.join(" ")).join(", ")}`);
}
