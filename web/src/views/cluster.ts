import type { ClusterNode, ClusterView } from "../../../services/api/cluster";
import { api, ApiError, describeError } from "../api";
import { lineChart, shareBar, type Series } from "../chart";
import { formatBytes, h, mount } from "../dom";
import type { Cleanup } from "../router";
import { isAdmin } from "../session";

const REFRESH_MS = 3000;
const SAMPLES = 30;

interface Sample {
	at: number;
	counts: Record<string, number>;
}

function pct(v: number | null): string {
	return v == null ? "—" : `${Math.round(v)} %`;
}

function duration(seconds: number | null): string {
	if (seconds == null) return "—";
	if (seconds < 60) return `${seconds} s`;
	if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
	return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

/** Requests per second of each node between consecutive samples. */
function rates(history: Sample[], nodes: string[]): Series[] {
	return nodes.map((name, index) => ({
		name,
		index,
		values: history.slice(1).map((sample, i) => {
			const prev = history[i];
			const dt = (sample.at - prev.at) / 1000;
			if (!(name in sample.counts) || dt <= 0) return null;
			return Math.max(0, (sample.counts[name] - (prev.counts[name] ?? 0)) / dt);
		})
	}));
}

function nodeRow(node: ClusterNode): HTMLTableRowElement {
	return h(
		"tr",
		{ "data-node": node.id, class: node.available ? null : "row-offline" },
		h(
			"th",
			{ scope: "row", "data-label": "Node" },
			node.id,
			node.local ? h("span", { class: "badge" }, "this gateway") : null
		),
		h(
			"td",
			{ "data-label": "Services" },
			h(
				"ul",
				{ class: "chips" },
				node.services.map(s => h("li", { class: `chip chip-${s}` }, s))
			)
		),
		h(
			"td",
			{ "data-label": "Status" },
			h(
				"span",
				{ class: node.available ? "status status-up" : "status status-down" },
				node.available ? "available" : "offline"
			)
		),
		h("td", { "data-label": "Host CPU", class: "num" }, pct(node.cpu)),
		h("td", { "data-label": "Memory (RSS)", class: "num" }, node.memory ? formatBytes(node.memory.rss) : "—"),
		h(
			"td",
			{ "data-label": "Host memory used", class: "num" },
			node.memory ? pct(node.memory.hostUsedPercent) : "—"
		),
		h("td", { "data-label": "Uptime", class: "num" }, duration(node.uptime)),
		h("td", { "data-label": "Users requests", class: "num node-requests" }, String(node.requests))
	);
}

/** The admin dashboard: nodes, their load, and how users requests spread over them, refreshed every few seconds. */
export function clusterView(main: HTMLElement): Cleanup | void {
	if (!isAdmin()) {
		mount(
			main,
			h("h1", null, "Cluster"),
			h("p", { class: "notice" }, "Only administrators can see the cluster dashboard.")
		);
		return;
	}
	const history: Sample[] = [];
	let timer: number | undefined;
	let paused = false;
	let stopped = false;

	const summary = h("div", { class: "cards", id: "cluster-summary" });
	const spread = h("section", { class: "panel", id: "spread", "aria-labelledby": "spread-title" });
	const table = h("div", { class: "table-wrap", id: "cluster-nodes" });
	// Not a live region: a sentence read out every 3 s would drown everything else.
	const status = h("p", { class: "list-status", id: "cluster-updated" });
	const error = h("p", { class: "notice notice-error", role: "alert", hidden: true });
	const pause = h("button", { type: "button", class: "button" }, "Pause updates");

	function draw(view: ClusterView): void {
		const available = view.nodes.filter(n => n.available);
		const usersNodes = view.nodes.filter(n => n.services.includes("users"));
		const names = [...new Set([...usersNodes.map(n => n.id), ...Object.keys(view.requests.byNode)])].sort();
		const card = (value: string | number, label: string, id: string) =>
			h(
				"div",
				{ class: "card", id },
				h("span", { class: "card-value" }, String(value)),
				h("span", { class: "card-label" }, label)
			);

		mount(
			summary,
			card(`${available.length} / ${view.nodes.length}`, "nodes available", "card-nodes"),
			card(usersNodes.filter(n => n.available).length, "users nodes up", "card-users"),
			card(view.requests.total, "users requests counted", "card-requests"),
			card(
				view.requests.gateways,
				view.requests.gateways === 1 ? "gateway counting" : "gateways counting",
				"card-gateways"
			)
		);

		const series = rates(history, names);
		const latest = series.map(x => x.values.at(-1) ?? 0);
		const chartLabel = names.length
			? `Requests per second served by each users node over the last ${Math.round(((SAMPLES - 1) * REFRESH_MS) / 1000)} seconds. Latest: ${names
					.map((n, i) => `${n} ${latest[i].toFixed(1)}`)
					.join(", ")}.`
			: "No users node yet.";
		const total = names.reduce((a, n) => a + (view.requests.byNode[n] ?? 0), 0);
		mount(
			spread,
			h("h2", { id: "spread-title" }, "How users requests spread"),
			h(
				"p",
				{ class: "hint" },
				"Each gateway counts which users node served each request (the X-Served-By header); the counts of every gateway are summed."
			),
			shareBar(
				names.map((name, index) => ({ name, index, value: view.requests.byNode[name] ?? 0 })),
				`Share of requests: ${names.map(n => `${n} ${view.requests.byNode[n] ?? 0}`).join(", ") || "none yet"}`
			),
			h(
				"ul",
				{ class: "legend", id: "spread-legend" },
				names.map((name, index) => {
					const count = view.requests.byNode[name] ?? 0;
					const share = total ? Math.round((count * 100) / total) : 0;
					return h(
						"li",
						{ "data-node": name },
						h("span", { class: `swatch series-${index % 6}`, "aria-hidden": "true" }),
						h("span", { class: "legend-name" }, name),
						h("span", { class: "legend-count" }, String(count)),
						h("span", { class: "legend-share" }, `${share} %`)
					);
				})
			),
			h(
				"figure",
				{ class: "chart-figure" },
				lineChart({
					series,
					// Grows with the history until the window is full, then scrolls.
					samples: Math.max(2, history.length - 1),
					secondsPerSample: REFRESH_MS / 1000,
					label: chartLabel,
					unit: "req/s"
				}),
				h("figcaption", null, "Requests per second, per users node")
			)
		);

		mount(
			table,
			h(
				"table",
				{ class: "nodes-table" },
				h("caption", { class: "visually-hidden" }, "Nodes of the cluster"),
				h(
					"thead",
					null,
					h(
						"tr",
						null,
						[
							"Node",
							"Services",
							"Status",
							"Host CPU",
							"Memory (RSS)",
							"Host memory used",
							"Uptime",
							"Users requests"
						].map(c => h("th", { scope: "col" }, c))
					)
				),
				h("tbody", null, view.nodes.map(nodeRow))
			)
		);
		status.textContent = `Updated ${new Date(view.time).toLocaleTimeString()} by gateway ${view.nodeID}.`;
	}

	async function refresh(): Promise<void> {
		if (stopped) return;
		if (!paused && !document.hidden) {
			try {
				const { data } = await api.cluster();
				if (stopped) return;
				history.push({ at: Date.parse(data.time) || Date.now(), counts: data.requests.byNode });
				if (history.length > SAMPLES) history.shift();
				error.hidden = true;
				draw(data);
			} catch (err) {
				if (stopped) return;
				error.textContent =
					err instanceof ApiError && err.status === 403
						? "Only administrators can see the cluster dashboard."
						: `${describeError(err)} Retrying…`;
				error.hidden = false;
			}
		}
		if (!stopped) timer = window.setTimeout(() => void refresh(), REFRESH_MS);
	}

	pause.addEventListener("click", () => {
		paused = !paused;
		pause.textContent = paused ? "Resume updates" : "Pause updates";
		if (!paused) {
			window.clearTimeout(timer);
			void refresh();
		}
	});

	mount(
		main,
		h("h1", null, "Cluster"),
		h("div", { class: "toolbar" }, h("p", null, `Refreshes every ${REFRESH_MS / 1000} seconds.`), pause),
		error,
		summary,
		spread,
		h("section", { "aria-labelledby": "nodes-title" }, h("h2", { id: "nodes-title" }, "Nodes"), table),
		status
	);
	void refresh();
	return () => {
		stopped = true;
		window.clearTimeout(timer);
	};
}
