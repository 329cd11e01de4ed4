import type { PublicUser } from "../../../services/users/types";
import { ROLES } from "../../../services/users/types";
import { api, ApiError, describeError } from "../api";
import { formatDate, h, mount } from "../dom";
import { Form } from "../forms";
import { setStaleData } from "../network";
import { flash, href, navigate, type RouteMatch } from "../router";
import { canManage, getSession, isAdmin, updateSessionUser } from "../session";
import { signOut } from "./sign-in";

function details(user: PublicUser, servedBy: string | null): HTMLElement {
	const row = (term: string, value: Node | string) => [h("dt", null, term), h("dd", null, value)];
	return h(
		"dl",
		{ class: "details", id: "user-details" },
		row("Name", user.name),
		row("Email", user.email),
		row("Role", user.role),
		row("Created", h("time", { datetime: user.createdAt }, formatDate(user.createdAt))),
		row("Updated", h("time", { datetime: user.updatedAt }, formatDate(user.updatedAt))),
		servedBy ? row("Served by", servedBy) : []
	);
}

function editForm(user: PublicUser, onSaved: (user: PublicUser, servedBy: string | null) => void): Form {
	const self = getSession()?.user.id === user.id;
	const admin = isAdmin();
	const form: Form = new Form({
		id: "edit",
		submitLabel: "Save changes",
		fields: [
			{ name: "name", label: "Name", autocomplete: "name", required: true, value: user.name, maxlength: 100 },
			{ name: "email", label: "Email", type: "email", autocomplete: "email", required: true, value: user.email },
			{
				name: "password",
				label: "New password",
				type: "password",
				autocomplete: "new-password",
				hint: "Leave empty to keep the current one. 8 to 128 characters."
			},
			...(self
				? [
						{
							name: "currentPassword",
							label: "Current password",
							type: "password" as const,
							autocomplete: "current-password",
							hint: "Needed to change your email or password."
						}
					]
				: []),
			...(admin
				? [{ name: "role", label: "Role", value: user.role, options: ROLES.map(r => ({ value: r, label: r })) }]
				: [])
		],
		fieldForType: {
			EMAIL_TAKEN: ["email", "Another account already uses this email."],
			WRONG_PASSWORD: [
				"currentPassword",
				"Enter your current password correctly to change your email or password."
			]
		},
		async onSubmit(values) {
			const changes: Parameters<typeof api.updateUser>[1] = {};
			if (values.name !== user.name) changes.name = values.name;
			if (values.email.trim().toLowerCase() !== user.email) changes.email = values.email;
			if (values.password) changes.password = values.password;
			if (admin && values.role && values.role !== user.role) changes.role = values.role as PublicUser["role"];
			if (self && (changes.email !== undefined || changes.password !== undefined) && values.currentPassword) {
				changes.currentPassword = values.currentPassword;
			}
			if (!Object.keys(changes).length) {
				flash("Nothing to save: no field changed.");
				return;
			}
			const answer = await api.updateUser(user.id, changes);
			onSaved(answer.data, answer.servedBy);
		}
	});
	if (self) {
		const needsCurrent = () =>
			form.setFieldVisible(
				"currentPassword",
				form.input("email").value.trim().toLowerCase() !== user.email || form.input("password").value !== ""
			);
		form.input("email").addEventListener("input", needsCurrent);
		form.input("password").addEventListener("input", needsCurrent);
		needsCurrent();
	}
	return form;
}

function deleteSection(user: PublicUser): HTMLElement {
	const self = getSession()?.user.id === user.id;
	const what = self ? "your account" : `${user.name}'s account`;
	const error = h("p", { class: "notice notice-error", role: "alert", hidden: true });
	const confirm = h("button", { type: "button", class: "button button-danger", id: "delete-confirm" }, "Yes, delete");
	const cancel = h("button", { type: "button", class: "button" }, "Cancel");
	const ask = h("button", { type: "button", class: "button button-danger", id: "delete-start" }, `Delete ${what}`);
	const panel = h(
		"div",
		{ class: "confirm", role: "group", "aria-labelledby": "delete-question", hidden: true },
		h("p", { id: "delete-question" }, `Delete ${what}? This cannot be undone.`),
		h("div", { class: "form-actions" }, confirm, cancel)
	);
	ask.addEventListener("click", () => {
		panel.hidden = false;
		ask.hidden = true;
		confirm.focus();
	});
	cancel.addEventListener("click", () => {
		panel.hidden = true;
		ask.hidden = false;
		ask.focus();
	});
	confirm.addEventListener("click", async () => {
		confirm.disabled = true;
		error.hidden = true;
		try {
			await api.removeUser(user.id);
		} catch (err) {
			confirm.disabled = false;
			error.textContent = describeError(err);
			error.hidden = false;
			return;
		}
		if (self) {
			await signOut("Your account was deleted.");
		} else {
			flash(`${user.name}'s account was deleted.`, true);
			navigate("/users");
		}
	});
	return h(
		"section",
		{ class: "danger-zone", "aria-labelledby": "delete-title" },
		h("h2", { id: "delete-title" }, "Delete"),
		error,
		ask,
		panel
	);
}

/** A user's page: details for everyone signed in; edit and delete for themselves and admins. */
export async function userView(main: HTMLElement, route: RouteMatch): Promise<void> {
	const id = route.params.id;
	mount(main, h("h1", null, "User"), h("p", { role: "status" }, "Loading…"));
	let user: PublicUser;
	let servedBy: string | null;
	try {
		const answer = await api.getUser(id);
		setStaleData(answer.fromCache);
		user = answer.data;
		servedBy = answer.servedBy;
	} catch (err) {
		const missing = err instanceof ApiError && (err.status === 404 || err.status === 422);
		mount(
			main,
			h("h1", null, missing ? "User not found" : "User"),
			h(
				"p",
				{ class: "notice notice-error", role: "alert" },
				missing ? "No user has this address." : describeError(err)
			),
			h("p", null, h("a", { href: href("/users") }, "Back to the users list"))
		);
		return;
	}

	const draw = (u: PublicUser, by: string | null): void => {
		const manage = canManage(u.id);
		mount(
			main,
			h("p", { class: "breadcrumb" }, h("a", { href: href("/users") }, "← Users")),
			h("h1", { tabindex: "-1" }, u.name),
			details(u, by),
			manage
				? h(
						"section",
						{ "aria-labelledby": "edit-title" },
						h("h2", { id: "edit-title" }, "Edit"),
						editForm(u, (saved, savedBy) => {
							updateSessionUser(saved);
							draw(saved, savedBy);
							flash("Saved.");
							main.querySelector("h1")?.focus();
						}).element
					)
				: null,
			manage ? deleteSection(u) : null
		);
	};
	draw(user, servedBy);
}
