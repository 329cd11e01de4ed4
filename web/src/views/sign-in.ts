import type { LoginResult } from "../../../services/api.service";
import { api } from "../api";
import { h, mount } from "../dom";
import { Form } from "../forms";
import { flash, href, navigate, type RouteMatch } from "../router";
import { getSession, setSession } from "../session";

/** Keeps the answer of `POST /auth/login` as the session. */
export function startSession(result: LoginResult): void {
	setSession({ token: result.token, expiresAt: Date.now() + result.expiresIn * 1000, user: result.user });
}

/** Where to go after signing in: `?next=` when it is one of our routes. */
function nextPath(query: URLSearchParams): string {
	const next = query.get("next") ?? "";
	return next.startsWith("/") && !next.startsWith("/sign-") ? next : "/users";
}

function go(path: string): void {
	const [p, qs] = path.split("?");
	navigate(p, Object.fromEntries(new URLSearchParams(qs ?? "")));
}

/** Forgets the token, and the API answers the service worker kept for this user. */
export async function signOut(message = "You are signed out."): Promise<void> {
	setSession(null);
	if ("caches" in window) await caches.delete("rncp-data").catch(() => false);
	flash(message, true);
	navigate("/sign-in");
}

export function signInView(main: HTMLElement, route: RouteMatch): void {
	if (getSession()) {
		go(nextPath(route.query));
		return;
	}
	const form = new Form({
		id: "signin",
		submitLabel: "Sign in",
		fields: [
			{ name: "email", label: "Email", type: "email", autocomplete: "username", required: true },
			{ name: "password", label: "Password", type: "password", autocomplete: "current-password", required: true }
		],
		async onSubmit(values) {
			const { data } = await api.login(values.email, values.password);
			startSession(data);
			flash(`Welcome, ${data.user.name}.`, true);
			go(nextPath(route.query));
		}
	});
	mount(
		main,
		h("h1", null, "Sign in"),
		form.element,
		h("p", null, "No account yet? ", h("a", { href: href("/sign-up") }, "Sign up"), ".")
	);
}
