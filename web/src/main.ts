import "./styles.css";
import { loadConfig, setUnauthorizedHandler } from "./api";
import { byId, h, mount } from "./dom";
import { watchNetwork } from "./network";
import { flash, focusHeading, href, navigate, notFound, route, startRouter, type View } from "./router";
import { getSession, onSessionChange, setSession } from "./session";
import { clusterView } from "./views/cluster";
import { signInView, signOut } from "./views/sign-in";
import { signUpView } from "./views/sign-up";
import { userView } from "./views/user";
import { usersView } from "./views/users";

/** Screens that need a session send the visitor to sign in first, then back. */
function signedIn(view: View): View {
	return (main, match) => {
		if (getSession()) return view(main, match);
		const next = `${match.path}${match.query.size ? `?${match.query.toString()}` : ""}`;
		navigate("/sign-in", { next }, true);
	};
}

function renderNav(): void {
	const session = getSession();
	const path = location.hash.slice(1).split("?")[0] || "/";
	const link = (to: string, label: string) =>
		h("a", { href: href(to), "aria-current": path === to || path.startsWith(`${to}/`) ? "page" : null }, label);
	mount(
		byId("nav"),
		h(
			"ul",
			null,
			session
				? [
						h("li", null, link("/users", "Users")),
						session.user.role === "admin" ? h("li", null, link("/cluster", "Cluster")) : null,
						h(
							"li",
							{ class: "nav-me" },
							h("a", { href: href(`/users/${session.user.id}`) }, session.user.name),
							session.user.role === "admin" ? h("span", { class: "badge" }, "admin") : null
						),
						h(
							"li",
							null,
							h("button", { type: "button", class: "link-button", onClick: () => signOut() }, "Sign out")
						)
					]
				: [h("li", null, link("/sign-in", "Sign in")), h("li", null, link("/sign-up", "Sign up"))]
		)
	);
}

route(
	"/",
	signedIn(() => navigate("/users", {}, true))
);
route("/sign-in", signInView);
route("/sign-up", signUpView);
route("/users", signedIn(usersView));
route("/users/:id", signedIn(userView));
route("/cluster", signedIn(clusterView));
notFound(main => {
	mount(
		main,
		h("h1", null, "Page not found"),
		h(
			"p",
			null,
			"There is nothing at this address. ",
			h("a", { href: href("/users") }, "Go to the users list"),
			"."
		)
	);
});

async function boot(): Promise<void> {
	watchNetwork();
	byId("main").querySelector(".loading")?.remove();
	// The skip link focuses the content without touching the route in the hash.
	document.querySelector(".skip-link")?.addEventListener("click", e => {
		e.preventDefault();
		byId("main").focus();
	});
	try {
		await loadConfig();
	} catch {
		flash("The app's configuration could not be loaded; using the default API address.");
	}
	setUnauthorizedHandler(() => {
		if (!getSession()) return;
		setSession(null);
		flash("Your session has ended. Please sign in again.", true);
		navigate("/sign-in", { next: location.hash.slice(1) });
	});
	onSessionChange(renderNav);
	document.addEventListener("routechange", e => {
		renderNav();
		focusHeading((e as CustomEvent<{ first: boolean }>).detail.first);
	});
	renderNav();
	startRouter();

	if ("serviceWorker" in navigator && __REGISTER_SW__) {
		navigator.serviceWorker.register("/sw.js").catch(() => undefined);
	}
}

void boot();
