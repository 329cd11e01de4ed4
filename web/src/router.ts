import { byId } from "./dom";

/**
 * Hash routes (`#/users?q=an`): the `www` service only serves files, so every
 * screen is `index.html` and the service worker needs one cached page.
 */

export interface RouteMatch {
	path: string;
	params: Record<string, string>;
	query: URLSearchParams;
}

/** Stops what a screen started (timers, listeners) when another one replaces it. */
export type Cleanup = () => void;
export type View = (main: HTMLElement, route: RouteMatch) => Promise<Cleanup | void> | Cleanup | void;

interface RouteDef {
	pattern: RegExp;
	keys: string[];
	view: View;
}

const routes: RouteDef[] = [];
let fallback: View = () => undefined;
let cleanup: Cleanup | void;
let renders = 0;

export function route(path: string, view: View): void {
	const keys: string[] = [];
	const pattern = new RegExp(
		`^${path.replace(/:([a-zA-Z]+)/g, (_m, key: string) => {
			keys.push(key);
			return "([^/]+)";
		})}$`
	);
	routes.push({ pattern, keys, view });
}

export function notFound(view: View): void {
	fallback = view;
}

export function href(path: string, query: Record<string, string | number | undefined> = {}): string {
	const qs = new URLSearchParams();
	for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== "") qs.set(k, String(v));
	const q = qs.toString();
	return `#${path}${q ? `?${q}` : ""}`;
}

export function navigate(path: string, query: Record<string, string | number | undefined> = {}, replace = false): void {
	const target = href(path, query);
	if (location.hash === target) void render();
	else if (replace) {
		history.replaceState(null, "", target);
		void render();
	} else location.hash = target;
}

function current(): { path: string; query: URLSearchParams } {
	const raw = location.hash.startsWith("#/") ? location.hash.slice(1) : "/";
	const [path, qs] = raw.split("?");
	return { path: path || "/", query: new URLSearchParams(qs ?? "") };
}

/** Messages that must survive one navigation ("Signed out", "Account deleted"). */
let pendingFlash: string | null = null;

export function flash(message: string, nextScreen = false): void {
	if (nextScreen) pendingFlash = message;
	else byId("flash").textContent = message;
}

export async function render(): Promise<void> {
	const { path, query } = current();
	const main = byId("main");
	if (cleanup) cleanup();
	cleanup = undefined;
	const render = ++renders;

	byId("flash").textContent = pendingFlash ?? "";
	pendingFlash = null;

	let view = fallback;
	let params: Record<string, string> = {};
	for (const r of routes) {
		const m = r.pattern.exec(path);
		if (m) {
			view = r.view;
			params = Object.fromEntries(r.keys.map((k, i) => [k, decodeURIComponent(m[i + 1])]));
			break;
		}
	}
	const done = await view(main, { path, params, query });
	if (render !== renders) {
		// Another navigation started while this screen loaded.
		if (done) done();
		return;
	}
	cleanup = done;
	document.dispatchEvent(new CustomEvent("routechange", { detail: { path, first: render === 1 } }));
}

/** Moves focus to the new screen's heading (not on the first load) and names the tab after it. */
export function focusHeading(first: boolean): void {
	const heading = byId("main").querySelector<HTMLElement>("h1");
	if (!heading) return;
	document.title = `${heading.textContent ?? ""} · RNCP`;
	if (!first) {
		heading.setAttribute("tabindex", "-1");
		heading.focus();
	}
}

export function startRouter(): void {
	window.addEventListener("hashchange", () => {
		if (location.hash === "" || location.hash.startsWith("#/")) void render();
	});
	void render();
}
