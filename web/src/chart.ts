import { s } from "./dom";

/**
 * Small SVG charts for the dashboard: no library, no inline styles (the
 * page's CSP forbids them), colours from the stylesheet through classes, and
 * each series also told apart by its dash pattern for readers who can't tell
 * the colours apart.
 */

export const SERIES_CLASSES = 6;
const DASHES = ["", "6 3", "2 3", "10 3 2 3", "1 2", "8 6"];

export interface Series {
	name: string;
	/** One value per sample; null where the node was not there. */
	values: (number | null)[];
	index: number;
}

function niceMax(v: number): number {
	if (v <= 1) return 1;
	const p = 10 ** Math.floor(Math.log10(v));
	for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
	return 10 * p;
}

function fmt(v: number): string {
	return v >= 10 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(1);
}

/** A line chart of `series` over `samples` slots, newest on the right. */
export function lineChart(opts: {
	series: Series[];
	samples: number;
	secondsPerSample: number;
	label: string;
	unit: string;
}): SVGSVGElement {
	const W = 960;
	const H = 260;
	const pad = { left: 48, right: 16, top: 28, bottom: 28 };
	const innerW = W - pad.left - pad.right;
	const innerH = H - pad.top - pad.bottom;
	const max = niceMax(Math.max(0, ...opts.series.flatMap(x => x.values.filter((v): v is number => v != null))));
	const x = (i: number) => pad.left + (opts.samples <= 1 ? innerW : (i * innerW) / (opts.samples - 1));
	const y = (v: number) => pad.top + innerH - (v / max) * innerH;

	const grid = [0, max / 2, max].map(v =>
		s(
			"g",
			{ class: "chart-grid" },
			s("line", { x1: pad.left, x2: W - pad.right, y1: y(v), y2: y(v) }),
			s("text", { x: pad.left - 6, y: y(v) + 4, "text-anchor": "end" }, fmt(v))
		)
	);
	const span = (opts.samples - 1) * opts.secondsPerSample;
	const xLabels = [
		s("text", { x: pad.left, y: H - 8, "text-anchor": "start" }, `−${Math.round(span)} s`),
		s("text", { x: W - pad.right, y: H - 8, "text-anchor": "end" }, "now")
	];
	const lines = opts.series.map(serie => {
		const offset = opts.samples - serie.values.length;
		let d = "";
		let pen = false;
		serie.values.forEach((v, i) => {
			if (v == null) {
				pen = false;
				return;
			}
			d += `${pen ? "L" : "M"}${x(i + offset).toFixed(1)},${y(v).toFixed(1)}`;
			pen = true;
		});
		return s("path", {
			d: d || "M0,0",
			class: `chart-line series-${serie.index % SERIES_CLASSES}`,
			"stroke-dasharray": DASHES[serie.index % DASHES.length] || null,
			"data-node": serie.name
		});
	});
	return s(
		"svg",
		{
			viewBox: `0 0 ${W} ${H}`,
			class: "chart",
			role: "img",
			"aria-label": opts.label,
			preserveAspectRatio: "xMidYMid meet"
		},
		s("text", { x: pad.left, y: 14, class: "chart-unit" }, opts.unit),
		grid,
		xLabels,
		lines
	);
}

/** One horizontal bar split by share, e.g. how many requests each node served. */
export function shareBar(parts: { name: string; value: number; index: number }[], label: string): SVGSVGElement {
	const total = parts.reduce((a, p) => a + p.value, 0);
	let at = 0;
	const rects = parts.map(p => {
		const w = total ? (p.value / total) * 100 : 0;
		const rect = s("rect", {
			x: at,
			y: 0,
			width: w,
			height: 10,
			class: `share series-${p.index % SERIES_CLASSES}`,
			"data-node": p.name
		});
		at += w;
		return rect;
	});
	return s(
		"svg",
		{ viewBox: "0 0 100 10", preserveAspectRatio: "none", class: "share-bar", role: "img", "aria-label": label },
		total ? rects : s("rect", { x: 0, y: 0, width: 100, height: 10, class: "share share-empty" })
	);
}
