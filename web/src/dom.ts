/**
 * A few lines of DOM building instead of a framework. Text always goes in as
 * text nodes, never as HTML, so values from the API cannot inject markup.
 */

export type Child = Node | string | number | null | undefined | false | Child[];
type AttrValue = string | number | boolean | null | undefined;
export type Attrs = Record<string, AttrValue | ((event: never) => void)>;

function append(parent: Node, children: Child[]): void {
	for (const child of children) {
		if (child == null || child === false) continue;
		if (Array.isArray(child)) append(parent, child);
		else parent.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
	}
}

function setAttrs(el: Element, attrs: Attrs | null | undefined): void {
	if (!attrs) return;
	for (const [key, value] of Object.entries(attrs)) {
		if (typeof value === "function") {
			el.addEventListener(key.slice(2).toLowerCase(), value as EventListener);
		} else if (value === true) {
			el.setAttribute(key, "");
		} else if (value !== false && value != null) {
			el.setAttribute(key, String(value));
		}
	}
}

/** `h("button", { type: "submit", onClick }, "Save")`: `on*` keys are listeners, `true` sets an empty attribute. */
export function h<K extends keyof HTMLElementTagNameMap>(
	tag: K,
	attrs?: Attrs | null,
	...children: Child[]
): HTMLElementTagNameMap[K] {
	const el = document.createElement(tag);
	setAttrs(el, attrs);
	append(el, children);
	return el;
}

/** The same for SVG elements. */
export function s<K extends keyof SVGElementTagNameMap>(
	tag: K,
	attrs?: Attrs | null,
	...children: Child[]
): SVGElementTagNameMap[K] {
	const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
	setAttrs(el, attrs);
	append(el, children);
	return el;
}

/** Replaces the children of `parent`. */
export function mount(parent: Element, ...children: Child[]): void {
	parent.replaceChildren();
	append(parent, children);
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
	const el = document.getElementById(id);
	if (!el) throw new Error(`#${id} is missing from index.html`);
	return el as T;
}

export function formatDate(iso: string): string {
	const d = new Date(iso);
	return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function formatBytes(n: number): string {
	if (n < 1024) return `${n} B`;
	const units = ["KiB", "MiB", "GiB"];
	let v = n / 1024;
	let i = 0;
	while (v >= 1024 && i < units.length - 1) {
		v /= 1024;
		i++;
	}
	return `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}
