import type { UserPage } from "../../../services/users/types";
import { api, describeError } from "../api";
import { formatDate, h, mount } from "../dom";
import { setStaleData } from "../network";
import { href, type Cleanup, type RouteMatch } from "../router";

const PAGE_SIZES = [10, 20, 50];

function positiveInt(value: string | null, fallback: number): number {
	const n = Number(value);
	return Number.isInteger(n) && n > 0 ? n : fallback;
}

/** The users list: prefix search as you type, pages, each name a link to its page. */
export function usersView(main: HTMLElement, route: RouteMatch): Cleanup {
	const state = {
		q: route.query.get("q") ?? "",
		page: positiveInt(route.query.get("page"), 1),
		pageSize: PAGE_SIZES.includes(Number(route.query.get("pageSize"))) ? Number(route.query.get("pageSize")) : 10
	};
	let seq = 0;
	let debounce: number | undefined;

	const status = h("p", { class: "list-status", role: "status", id: "users-status" });
	const results = h("div", { class: "results", id: "users-results", "aria-describedby": "users-status" });
	const search = h("input", {
		id: "users-q",
		name: "q",
		type: "search",
		value: state.q,
		autocomplete: "off",
		maxlength: 100,
		"aria-describedby": "users-q-hint"
	});
	const pageSize = h(
		"select",
		{ id: "users-page-size", name: "pageSize" },
		PAGE_SIZES.map(n => h("option", { value: n, selected: n === state.pageSize }, String(n)))
	);

	/** Keeps the address in step without a new screen (so focus stays where the user is). */
	function syncAddress(push: boolean): void {
		const target = href("/users", {
			q: state.q || undefined,
			page: state.page > 1 ? state.page : undefined,
			pageSize: state.pageSize !== 10 ? state.pageSize : undefined
		});
		if (location.hash !== target) history[push ? "pushState" : "replaceState"](null, "", target);
	}

	async function load(focusResults = false): Promise<void> {
		const mine = ++seq;
		main.setAttribute("aria-busy", "true");
		try {
			const answer = await api.listUsers({ page: state.page, pageSize: state.pageSize, q: state.q || undefined });
			if (mine !== seq) return;
			setStaleData(answer.fromCache);
			renderPage(answer.data, answer.servedBy);
		} catch (err) {
			if (mine !== seq) return;
			status.textContent = "";
			mount(results, h("p", { class: "notice notice-error", role: "alert" }, describeError(err)));
		} finally {
			if (mine === seq) main.removeAttribute("aria-busy");
		}
		if (focusResults && mine === seq) status.focus();
	}

	function goTo(page: number): void {
		state.page = page;
		syncAddress(true);
		void load(true);
	}

	function renderPage(data: UserPage, servedBy: string | null): void {
		const found = data.total === 1 ? "1 user" : `${data.total} users`;
		const where = state.q ? ` whose name or email starts with “${state.q}”` : "";
		const pages = data.totalPages > 1 ? `, page ${data.page} of ${data.totalPages}` : "";
		status.replaceChildren(
			`${found}${where}${pages}.`,
			servedBy ? h("span", { class: "served-by" }, ` Served by ${servedBy}.`) : ""
		);
		status.setAttribute("tabindex", "-1");

		if (!data.rows.length) {
			mount(
				results,
				h(
					"p",
					{ class: "notice" },
					state.q
						? "No user matches. Try fewer letters."
						: data.page > 1
							? "This page is empty."
							: "No users yet."
				)
			);
			return;
		}
		const table = h(
			"table",
			{ class: "users-table" },
			h("caption", { class: "visually-hidden" }, `Users${pages}`),
			h(
				"thead",
				null,
				h(
					"tr",
					null,
					["Name", "Email", "Role", "Created"].map(c => h("th", { scope: "col" }, c))
				)
			),
			h(
				"tbody",
				null,
				data.rows.map(u =>
					h(
						"tr",
						null,
						h(
							"th",
							{ scope: "row", "data-label": "Name" },
							h("a", { href: href(`/users/${u.id}`) }, u.name)
						),
						h("td", { "data-label": "Email" }, u.email),
						h("td", { "data-label": "Role" }, u.role),
						h(
							"td",
							{ "data-label": "Created" },
							h("time", { datetime: u.createdAt }, formatDate(u.createdAt))
						)
					)
				)
			)
		);
		const pager =
			data.totalPages > 1
				? h(
						"nav",
						{ class: "pager", "aria-label": "Pages" },
						h(
							"button",
							{
								type: "button",
								class: "button",
								disabled: data.page <= 1,
								onClick: () => goTo(data.page - 1)
							},
							"← Previous"
						),
						h("span", { class: "pager-where" }, `Page ${data.page} of ${data.totalPages}`),
						h(
							"button",
							{
								type: "button",
								class: "button",
								disabled: data.page >= data.totalPages,
								onClick: () => goTo(data.page + 1)
							},
							"Next →"
						)
					)
				: null;
		mount(results, table, pager);
	}

	search.addEventListener("input", () => {
		window.clearTimeout(debounce);
		debounce = window.setTimeout(() => {
			state.q = search.value.trim();
			state.page = 1;
			syncAddress(false);
			void load();
		}, 250);
	});
	pageSize.addEventListener("change", () => {
		state.pageSize = Number(pageSize.value);
		state.page = 1;
		syncAddress(false);
		void load();
	});

	mount(
		main,
		h("h1", null, "Users"),
		h(
			"form",
			{
				role: "search",
				class: "search",
				onSubmit: (e: SubmitEvent) => {
					e.preventDefault();
					window.clearTimeout(debounce);
					state.q = search.value.trim();
					state.page = 1;
					syncAddress(false);
					void load(true);
				}
			},
			h(
				"div",
				{ class: "field" },
				h("label", { for: "users-q" }, "Search"),
				h("p", { class: "hint", id: "users-q-hint" }, "Start of a name or an email, any case."),
				h("div", { class: "search-row" }, search, h("button", { type: "submit", class: "button" }, "Search"))
			),
			h("div", { class: "field field-inline" }, h("label", { for: "users-page-size" }, "Per page"), pageSize)
		),
		status,
		results
	);
	void load();
	return () => window.clearTimeout(debounce);
}
