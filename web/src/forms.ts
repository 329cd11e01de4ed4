import { ApiError, describeError } from "./api";
import { h, type Child } from "./dom";

/**
 * Accessible forms: every input has a label, its hint and its error are tied
 * to it with `aria-describedby`, and a failed submit shows a summary (focused,
 * announced) whose entries jump to their fields. Validation is the API's: the
 * 422 `data[]` items land next to the fields they name.
 */

export interface FieldSpec {
	name: string;
	label: string;
	type?: "text" | "email" | "password" | "search";
	autocomplete?: string;
	hint?: string;
	required?: boolean;
	value?: string;
	maxlength?: number;
	/** A `<select>` instead of an `<input>`. */
	options?: { value: string; label: string }[];
}

interface FieldParts {
	spec: FieldSpec;
	input: HTMLInputElement | HTMLSelectElement;
	error: HTMLElement;
	wrapper: HTMLElement;
}

export interface FormOptions {
	id: string;
	fields: FieldSpec[];
	submitLabel: string;
	/** Messages for error types, e.g. `{ EMAIL_TAKEN: ["email", "…"] }`: shown at that field. */
	fieldForType?: Record<string, [field: string, message: string]>;
	onSubmit(values: Record<string, string>, form: Form): Promise<void>;
	extra?: Child;
}

export class Form {
	readonly element: HTMLFormElement;
	private readonly summary: HTMLElement;
	private readonly submit: HTMLButtonElement;
	private readonly parts = new Map<string, FieldParts>();
	private cooldown: number | undefined;
	private coolingDown = false;

	constructor(private readonly opts: FormOptions) {
		this.summary = h("div", { class: "error-summary", id: `${opts.id}-summary`, tabindex: "-1", hidden: true });
		this.submit = h("button", { type: "submit", class: "button button-primary" }, opts.submitLabel);
		const fields = opts.fields.map(spec => this.field(spec));
		this.element = h(
			"form",
			{ id: opts.id, novalidate: true, onSubmit: (e: SubmitEvent) => void this.handleSubmit(e) },
			this.summary,
			fields,
			opts.extra,
			h("div", { class: "form-actions" }, this.submit)
		);
	}

	private field(spec: FieldSpec): HTMLElement {
		const id = `${this.opts.id}-${spec.name}`;
		const hintId = `${id}-hint`;
		const errorId = `${id}-error`;
		const error = h("p", { class: "field-error", id: errorId, hidden: true });
		const describedBy = [spec.hint ? hintId : null, errorId].filter(Boolean).join(" ");
		const input = spec.options
			? h(
					"select",
					{ id, name: spec.name, "aria-describedby": describedBy },
					spec.options.map(o => h("option", { value: o.value, selected: o.value === spec.value }, o.label))
				)
			: h("input", {
					id,
					name: spec.name,
					type: spec.type ?? "text",
					autocomplete: spec.autocomplete ?? "off",
					required: spec.required,
					"aria-required": spec.required ? "true" : null,
					maxlength: spec.maxlength,
					value: spec.value,
					"aria-describedby": describedBy,
					spellcheck: spec.type === "email" || spec.type === "password" ? "false" : null
				});
		const wrapper = h(
			"div",
			{ class: "field" },
			h(
				"label",
				{ for: id },
				spec.label,
				spec.required || spec.options ? null : h("span", { class: "optional" }, " (optional)")
			),
			spec.hint ? h("p", { class: "hint", id: hintId }, spec.hint) : null,
			error,
			input
		);
		this.parts.set(spec.name, { spec, input, error, wrapper });
		return wrapper;
	}

	/** The input of `name` (to show or hide a field, or read it). */
	input(name: string): HTMLInputElement | HTMLSelectElement {
		const part = this.parts.get(name);
		if (!part) throw new Error(`no field ${name}`);
		return part.input;
	}

	setFieldVisible(name: string, visible: boolean): void {
		const part = this.parts.get(name);
		if (part) part.wrapper.hidden = !visible;
	}

	values(): Record<string, string> {
		const out: Record<string, string> = {};
		for (const [name, part] of this.parts) if (!part.wrapper.hidden) out[name] = part.input.value;
		return out;
	}

	clearErrors(): void {
		this.summary.hidden = true;
		this.summary.replaceChildren();
		for (const part of this.parts.values()) {
			part.error.hidden = true;
			part.error.textContent = "";
			part.input.removeAttribute("aria-invalid");
			part.wrapper.classList.remove("field-invalid");
		}
	}

	private setFieldError(name: string, message: string): boolean {
		const part = this.parts.get(name);
		if (!part || part.wrapper.hidden) return false;
		part.error.textContent = message;
		part.error.hidden = false;
		part.input.setAttribute("aria-invalid", "true");
		part.wrapper.classList.add("field-invalid");
		return true;
	}

	/** "The 'email' field must be…" → "Email must be…". */
	private humanize(name: string, message: string): string {
		const label = this.parts.get(name)?.spec.label;
		return label ? message.replace(/^The '[^']*' field/, label) : message;
	}

	/** Shows `err` at its fields and in the summary, then moves focus to the summary. */
	showError(err: unknown): void {
		this.clearErrors();
		const items: { field?: string; message: string }[] = [];
		if (err instanceof ApiError && err.fields.length) {
			for (const f of err.fields) {
				const message = this.humanize(f.field, f.message);
				items.push({ field: this.setFieldError(f.field, message) ? f.field : undefined, message });
			}
		} else if (err instanceof ApiError && this.opts.fieldForType?.[err.type]) {
			const [field, message] = this.opts.fieldForType[err.type];
			items.push({ field: this.setFieldError(field, message) ? field : undefined, message });
		} else {
			items.push({ message: describeError(err) });
			if (err instanceof ApiError && err.status === 429 && err.retryAfter) this.coolDown(err.retryAfter);
		}
		const title = items.some(i => i.field) ? "Please fix the following" : "That didn't work";
		this.summary.replaceChildren(
			h("h2", { class: "error-summary-title" }, title),
			h(
				"ul",
				null,
				items.map(item =>
					h(
						"li",
						null,
						item.field
							? h(
									"a",
									{
										href: `#${this.opts.id}-${item.field}`,
										onClick: (e: MouseEvent) => {
											e.preventDefault();
											this.parts.get(item.field as string)?.input.focus();
										}
									},
									item.message
								)
							: item.message
					)
				)
			)
		);
		this.summary.hidden = false;
		this.summary.setAttribute("role", "alert");
		this.summary.focus();
	}

	/** Disables the submit button for a 429's `Retry-After`, counting down on it. */
	private coolDown(seconds: number): void {
		window.clearInterval(this.cooldown);
		const label = this.opts.submitLabel;
		let left = seconds;
		this.coolingDown = true;
		const tick = () => {
			if (left <= 0 || !this.element.isConnected) {
				window.clearInterval(this.cooldown);
				this.coolingDown = false;
				this.submit.disabled = false;
				this.submit.textContent = label;
				return;
			}
			this.submit.disabled = true;
			this.submit.textContent = `${label} (wait ${left} s)`;
			left--;
		};
		tick();
		this.cooldown = window.setInterval(tick, 1000);
	}

	private async handleSubmit(event: SubmitEvent): Promise<void> {
		event.preventDefault();
		if (this.submit.disabled) return;
		this.clearErrors();
		this.submit.disabled = true;
		this.element.setAttribute("aria-busy", "true");
		try {
			await this.opts.onSubmit(this.values(), this);
		} catch (err) {
			this.showError(err);
		} finally {
			this.element.removeAttribute("aria-busy");
			if (!this.coolingDown) this.submit.disabled = false;
		}
	}
}
