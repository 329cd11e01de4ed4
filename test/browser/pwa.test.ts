import path from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import type { ClusterView } from "../../services/api/cluster";
import { http } from "../support/node-process";
import { waitFor } from "../support/redis-server";
import {
	accessibilityViolations,
	ARTIFACTS,
	launchChromium,
	launchPersistentChromium,
	startPwaCluster,
	type PwaCluster
} from "./support";

/**
 * The PWA in Debian's Chromium against a real cluster: gateway, two users
 * nodes and the www node as separate processes over a private Redis.
 */

jest.setTimeout(60_000);

const shot = (page: Page, name: string) =>
	page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });

describe("PWA in a browser, against a real cluster", () => {
	let cluster: PwaCluster;
	let browser: Browser;
	const contexts: BrowserContext[] = [];
	const closers: (() => Promise<void>)[] = [];
	const pageErrors: string[] = [];
	/** Twelve users sharing a name prefix, for search and pages. */
	const prefix = `Zed${Math.random().toString(36).slice(2, 7)}`;

	async function newPage(viewport = { width: 1280, height: 860 }): Promise<Page> {
		const context = await browser.newContext({ viewport, locale: "en-GB" });
		contexts.push(context);
		const page = await context.newPage();
		page.on("pageerror", err => pageErrors.push(err.message));
		return page;
	}

	async function signIn(page: Page, email: string, password: string): Promise<void> {
		await page.goto(`${cluster.wwwUrl}/#/sign-in`);
		await page.getByLabel("Email").fill(email);
		await page.getByLabel("Password").fill(password);
		await page.getByRole("button", { name: "Sign in" }).click();
		await page.getByRole("heading", { level: 1, name: "Users" }).waitFor();
	}

	async function token(email: string, password: string): Promise<string> {
		const res = await http<{ token: string }>(`${cluster.apiUrl}/auth/login`, {
			method: "POST",
			json: { email, password }
		});
		expect(res.status).toBe(200);
		return res.body.token;
	}

	beforeAll(async () => {
		[cluster, browser] = await Promise.all([startPwaCluster("pwa"), launchChromium()]);
		const seeded = await Promise.all(
			Array.from({ length: 12 }, (_, i) =>
				http(`${cluster.apiUrl}/users`, {
					method: "POST",
					json: {
						name: `${prefix} ${String(i + 1).padStart(2, "0")}`,
						email: `${prefix.toLowerCase()}${i}@example.test`,
						password: "seeded-password"
					}
				})
			)
		);
		expect(seeded.map(r => r.status)).toEqual(Array(12).fill(201));
	}, 90_000);

	afterAll(async () => {
		for (const context of contexts) await context.close();
		for (const close of closers) await close();
		await browser?.close();
		await cluster?.stop();
	});

	afterEach(() => {
		expect(pageErrors).toEqual([]);
	});

	it("signs up, signs out, signs in, lists, searches, edits and deletes an account", async () => {
		const page = await newPage();
		const me = {
			name: "Ada Lovelace",
			email: `ada-${prefix.toLowerCase()}@example.test`,
			password: "analytical-engine"
		};

		await page.goto(cluster.wwwUrl);
		await page.getByRole("heading", { level: 1, name: "Sign in" }).waitFor();
		await shot(page, "sign-in");
		expect(await accessibilityViolations(page)).toEqual([]);

		await page.getByRole("main").getByRole("link", { name: "Sign up" }).click();
		await page.getByRole("heading", { level: 1, name: "Create an account" }).waitFor();
		await page.getByLabel("Name").fill(me.name);
		await page.getByLabel("Email").fill(me.email);
		await page.getByLabel("Password").fill(me.password);
		await page.getByRole("button", { name: "Create account" }).click();
		await page.getByRole("heading", { level: 1, name: "Users" }).waitFor();
		expect(await page.locator("#flash").textContent()).toBe(`Your account is ready, ${me.name}.`);
		// A plain user has no dashboard link.
		expect(
			await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Cluster" }).count()
		).toBe(0);

		await page.getByRole("button", { name: "Sign out" }).click();
		await page.getByRole("heading", { level: 1, name: "Sign in" }).waitFor();
		expect(await page.locator("#flash").textContent()).toBe("You are signed out.");

		await signIn(page, me.email, me.password);
		await page
			.locator("#users-status")
			.filter({ hasText: /^\d+ users?\b/ })
			.waitFor();
		expect(await page.locator(".users-table tbody tr").count()).toBeGreaterThan(0);
		expect(await page.locator("#users-status").textContent()).toMatch(/Served by users-[12]-/);

		// Prefix search, case-insensitive, over two pages.
		await page.getByLabel("Search").fill(prefix.toUpperCase());
		const status = page.locator("#users-status");
		await status
			.filter({ hasText: `12 users whose name or email starts with “${prefix.toUpperCase()}”, page 1 of 2.` })
			.waitFor();
		const names = page.locator(".users-table tbody tr th a");
		const firstPage = await names.allTextContents();
		expect(firstPage).toHaveLength(10);
		expect(page.url()).toContain(`q=${prefix.toUpperCase()}`);
		await shot(page, "users");
		expect(await accessibilityViolations(page)).toEqual([]);
		await page.getByRole("button", { name: "Next →" }).click();
		await status.filter({ hasText: "page 2 of 2." }).waitFor();
		const secondPage = await names.allTextContents();
		expect(secondPage).toHaveLength(2);
		const all = Array.from({ length: 12 }, (_, i) => `${prefix} ${String(i + 1).padStart(2, "0")}`);
		expect([...firstPage, ...secondPage].sort()).toEqual(all);

		await page.getByLabel("Search").fill("ada-");
		await status.filter({ hasText: "1 user whose" }).waitFor();
		await page.getByRole("link", { name: me.name }).first().click();
		await page.getByRole("heading", { level: 1, name: me.name }).waitFor();

		// Edit: the current password is asked for only once the email changes.
		const current = page.getByLabel("Current password");
		expect(await current.isVisible()).toBe(false);
		const newEmail = `countess-${prefix.toLowerCase()}@example.test`;
		await page.getByLabel("Name", { exact: true }).fill("Ada, Countess of Lovelace");
		await page.getByLabel("Email").fill(newEmail);
		await current.fill(me.password);
		await page.getByRole("button", { name: "Save changes" }).click();
		await page.getByRole("heading", { level: 1, name: "Ada, Countess of Lovelace" }).waitFor();
		expect(await page.locator("#flash").textContent()).toBe("Saved.");
		expect(await page.locator("#user-details").textContent()).toContain(newEmail);
		await shot(page, "user");
		expect(await accessibilityViolations(page)).toEqual([]);

		await page.getByRole("button", { name: "Delete your account" }).click();
		await page.getByRole("button", { name: "Yes, delete" }).click();
		await page.getByRole("heading", { level: 1, name: "Sign in" }).waitFor();
		expect(await page.locator("#flash").textContent()).toBe("Your account was deleted.");

		// The account is gone: signing in with it is refused.
		await page.getByLabel("Email").fill(newEmail);
		await page.getByLabel("Password").fill(me.password);
		await page.getByRole("button", { name: "Sign in" }).click();
		await page.locator("#signin-summary").waitFor();
		expect(await page.locator("#signin-summary").textContent()).toMatch(/That didn't work/);
	});

	it("shows a 422's field errors next to their fields, and a 409 at the email", async () => {
		const page = await newPage();
		await page.goto(`${cluster.wwwUrl}/#/sign-up`);
		await page.getByLabel("Name").fill("Bob");
		await page.getByLabel("Email").fill("not-an-email");
		await page.getByLabel("Password").fill("short");
		await page.getByRole("button", { name: "Create account" }).click();

		const passwordError = page.locator("#signup-password-error");
		await passwordError.waitFor();
		expect(await passwordError.textContent()).toMatch(/^Password .*8/);
		expect(await page.locator("#signup-email-error").textContent()).toMatch(/^Email /);
		expect(await page.locator("#signup-name-error").isVisible()).toBe(false);
		expect(await page.getByLabel("Password").getAttribute("aria-invalid")).toBe("true");
		expect(await page.getByLabel("Password").getAttribute("aria-describedby")).toContain("signup-password-error");
		// The summary takes focus, so a screen reader reads what went wrong.
		expect(await page.evaluate("document.activeElement.id")).toBe("signup-summary");
		await shot(page, "sign-up-422");
		expect(await accessibilityViolations(page)).toEqual([]);

		await page.getByLabel("Email").fill(`${prefix.toLowerCase()}0@example.test`);
		await page.getByLabel("Password").fill("long-enough-password");
		await page.getByRole("button", { name: "Create account" }).click();
		await page.locator("#signup-email-error").filter({ hasText: "already registered" }).waitFor();
		expect(await passwordError.isVisible()).toBe(false);
	});

	it("shows an admin both users nodes on the dashboard, and the spread moves when traffic flows", async () => {
		const page = await newPage();
		await signIn(page, cluster.admin.email, cluster.admin.password);
		await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Cluster" }).click();
		await page.getByRole("heading", { level: 1, name: "Cluster" }).waitFor();

		const { users1, users2, gateway, www } = cluster.nodes;
		for (const node of [users1, users2, gateway, www]) {
			await page.locator(`#cluster-nodes tr[data-node="${node.nodeID}"]`).waitFor();
		}
		const count = async (nodeID: string) =>
			Number(await page.locator(`#spread-legend li[data-node="${nodeID}"] .legend-count`).textContent());
		const before = [await count(users1.nodeID), await count(users2.nodeID)];

		// Other clients' traffic: the round-robin balancer spreads it over both users nodes.
		const bearer = await token(cluster.admin.email, cluster.admin.password);
		const served: string[] = [];
		// Spread over a few refreshes, so the chart draws a rate rather than a spike.
		for (let i = 0; i < 40; i++) {
			const res = await http(`${cluster.apiUrl}/users?pageSize=5`, {
				headers: { Authorization: `Bearer ${bearer}` }
			});
			served.push(res.headers.get("x-served-by") ?? "");
			await new Promise(r => setTimeout(r, 150));
		}
		expect(new Set(served)).toEqual(new Set([users1.nodeID, users2.nodeID]));

		await waitFor(
			async () => {
				const now = [await count(users1.nodeID), await count(users2.nodeID)];
				return now[0] > before[0] && now[1] > before[1] && now[0] + now[1] - before[0] - before[1] >= 40;
			},
			{ timeoutMs: 15_000, intervalMs: 250, what: "the dashboard's counts to move on both users nodes" }
		);
		// The chart draws the burst as a rate on both nodes' lines.
		for (const node of [users1, users2]) {
			await page
				.locator(`#spread path.chart-line[data-node="${node.nodeID}"][d*="L"]`)
				.waitFor({ state: "attached" });
		}
		await shot(page, "dashboard");
		expect(await accessibilityViolations(page)).toEqual([]);

		// The gateway answers the same numbers, and refuses them to a plain user.
		const view = await http<ClusterView>(`${cluster.apiUrl}/cluster`, {
			headers: { Authorization: `Bearer ${bearer}` }
		});
		expect(
			view.body.nodes
				.filter(n => n.services.includes("users"))
				.map(n => n.id)
				.sort()
		).toEqual([users1.nodeID, users2.nodeID].sort());
		const plain = await token(`${prefix.toLowerCase()}1@example.test`, "seeded-password");
		const refused = await http(`${cluster.apiUrl}/cluster`, { headers: { Authorization: `Bearer ${plain}` } });
		expect(refused.status).toBe(403);
	});

	it("fits a phone's width", async () => {
		const page = await newPage({ width: 375, height: 740 });
		await signIn(page, cluster.admin.email, cluster.admin.password);
		await page.locator(".users-table tbody tr").first().waitFor();
		const overflow = await page.evaluate(
			"document.documentElement.scrollWidth - document.documentElement.clientWidth"
		);
		expect(overflow).toBe(0);
		await shot(page, "users-phone");
		expect(await accessibilityViolations(page)).toEqual([]);
	});

	it("tells how long to wait on a 429 (Retry-After), then lets the user retry", async () => {
		const page = await newPage();
		await page.goto(`${cluster.wwwUrl}/#/sign-in`);
		await page.getByLabel("Email").fill(cluster.admin.email);
		await page.getByLabel("Password").fill(cluster.admin.password);

		// Use up this window's login attempts (the browser and this test are the same client, 127.0.0.1),
		// late enough in the window that the page's attempt still falls in it.
		await waitFor(
			async () => {
				const res = await http(`${cluster.apiUrl}/auth/login`, {
					method: "POST",
					json: { email: cluster.admin.email, password: "not-the-password" }
				});
				return res.status === 429 && Number(res.headers.get("retry-after")) >= 2;
			},
			{ timeoutMs: 20_000, intervalMs: 0, what: "the login rate limit" }
		);
		await page.getByRole("button", { name: "Sign in" }).click();
		const summary = page.locator("#signin-summary");
		await summary.filter({ hasText: /Too many requests\. Please wait \d+ seconds? and try again\./ }).waitFor();
		const button = page.locator("#signin button[type=submit]");
		expect(await button.textContent()).toMatch(/^Sign in \(wait \d+ s\)$/);
		expect(await button.isDisabled()).toBe(true);
		await shot(page, "sign-in-429");

		// When the wait is over the button comes back, and signing in works.
		await page
			.getByRole("button", { name: "Sign in", exact: true })
			.and(page.locator(":enabled"))
			.waitFor({ timeout: 10_000 });
		await page.getByRole("button", { name: "Sign in", exact: true }).click();
		await page.getByRole("heading", { level: 1, name: "Users" }).waitFor();
	});

	it("is installable, opens with the network cut (service worker), says so, and never fakes a write", async () => {
		const persistent = await launchPersistentChromium({ width: 1280, height: 860 });
		closers.push(persistent.close);
		const page = await persistent.context.newPage();
		page.on("pageerror", err => pageErrors.push(err.message));
		await signIn(page, cluster.admin.email, cluster.admin.password);
		await page.locator(".users-table tbody tr").first().waitFor();
		// The worker installs on the first visit and takes control of the page.
		await waitFor(() => page.evaluate("!!navigator.serviceWorker.controller"), {
			timeoutMs: 15_000,
			what: "the service worker to control the page"
		});
		// Chromium's own verdict: the manifest parses and the app is installable.
		const cdp = await page.context().newCDPSession(page);
		const manifest = (await cdp.send("Page.getAppManifest")) as { errors: unknown[]; url: string };
		expect({ url: manifest.url, errors: manifest.errors }).toEqual({
			url: `${cluster.wwwUrl}/manifest.webmanifest`,
			errors: []
		});
		const { installabilityErrors } = await cdp.send("Page.getInstallabilityErrors");
		expect(installabilityErrors).toEqual([]);
		await cdp.detach();

		const myName = (await page.locator(".nav-me a").textContent()) as string;
		await page.locator(".nav-me a").click();
		await page.getByRole("heading", { level: 1, name: myName }).waitFor();

		// Cut the network: the www node is gone and the browser is offline.
		await cluster.nodes.www.stop();
		await page.context().setOffline(true);
		const response = await page.reload();
		expect(response?.fromServiceWorker()).toBe(true);
		await page.getByRole("heading", { level: 1, name: myName }).waitFor();
		await page.locator("#network").filter({ hasText: "You are offline." }).waitFor();
		await shot(page, "offline");

		// A write goes to the network or fails: never an answer from a cache.
		await page.getByLabel("Name", { exact: true }).fill("Offline Admin");
		await page.getByRole("button", { name: "Save changes" }).click();
		await page.locator("#edit-summary").filter({ hasText: "You are offline" }).waitFor();
	});
});
