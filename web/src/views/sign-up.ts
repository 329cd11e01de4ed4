import { api, ApiError } from "../api";
import { h, mount } from "../dom";
import { Form } from "../forms";
import { flash, href, navigate } from "../router";
import { getSession } from "../session";
import { startSession } from "./sign-in";

export function signUpView(main: HTMLElement): void {
	if (getSession()) {
		navigate("/users", {}, true);
		return;
	}
	// One key per form: a resubmitted sign-up (double click, retry) is answered once.
	let idempotencyKey = crypto.randomUUID();
	const form = new Form({
		id: "signup",
		submitLabel: "Create account",
		fields: [
			{ name: "name", label: "Name", autocomplete: "name", required: true, maxlength: 100 },
			{ name: "email", label: "Email", type: "email", autocomplete: "email", required: true, maxlength: 254 },
			{
				name: "password",
				label: "Password",
				type: "password",
				autocomplete: "new-password",
				required: true,
				hint: "8 to 128 characters.",
				maxlength: 128
			}
		],
		fieldForType: {
			EMAIL_TAKEN: ["email", "This email is already registered. Sign in instead, or use another email."]
		},
		async onSubmit(values) {
			const body = { name: values.name, email: values.email, password: values.password };
			try {
				await api.register(body, idempotencyKey);
			} catch (err) {
				// A refused sign-up (4xx) was not carried out: the corrected form is a new
				// request. After a timeout, a 5xx or a lost connection it may have been:
				// the retry keeps the key, so the gateway answers it once.
				if (err instanceof ApiError && err.status < 500) idempotencyKey = crypto.randomUUID();
				throw err;
			}
			let login;
			try {
				login = await api.login(body.email, body.password);
			} catch {
				// The account exists; only the automatic sign-in failed (e.g. rate limited).
				flash("Your account is ready. Please sign in.", true);
				navigate("/sign-in");
				return;
			}
			startSession(login.data);
			flash(`Your account is ready, ${login.data.user.name}.`, true);
			navigate("/users");
		}
	});
	mount(
		main,
		h("h1", null, "Create an account"),
		form.element,
		h("p", null, "Already registered? ", h("a", { href: href("/sign-in") }, "Sign in"), ".")
	);
}
