import type { LoadOptions, TargetResult } from "./load";

export interface ScenarioResult {
	scenario: string;
	targets: TargetResult[];
	notes: string[];
	extra?: Record<string, unknown>;
}

export interface ReadyResult {
	kind: string;
	ms: number[];
	idleRssBytes: number[];
}

export interface Goal {
	goal: string;
	figure: string;
	met: boolean | null;
}

export interface BenchReport {
	startedAt: string;
	quick: boolean;
	machine: Record<string, unknown>;
	settings: { load: LoadOptions; signup: LoadOptions; bigUsers: number; variants: unknown[] };
	scenarios: ScenarioResult[];
	ready: ReadyResult[];
	goals: Goal[];
	durationSeconds?: number;
	loadAverageAtEnd?: number[];
}

const MB = 1024 * 1024;

function mb(bytes: number): string {
	return Number.isFinite(bytes) ? (bytes / MB).toFixed(0) : "?";
}

function num(n: number, digits = 0): string {
	return Number.isFinite(n) ? n.toFixed(digits) : "?";
}

function pad(cells: string[][]): string[] {
	const widths = cells[0].map((_, c) => Math.max(...cells.map(row => row[c].length)));
	return cells.map(row =>
		row
			.map((cell, c) => (c === 0 || c === 1 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])))
			.join("  ")
			.trimEnd()
	);
}

/** The results table, one row per target of each scenario, then start-to-ready per node kind. */
export function tableLines(report: BenchReport): string[] {
	const rows: string[][] = [
		[
			"scenario",
			"target",
			"req/s",
			"×bare (min–max)",
			"×peer (min–max)",
			"p50 ms",
			"p99 ms",
			"errors",
			"CPU µs/req per process",
			"peak RSS MB per process"
		]
	];
	for (const s of report.scenarios) {
		for (const t of s.targets) {
			rows.push([
				s.scenario,
				t.name,
				num(t.rps),
				t.ratio ? `${t.ratio.median.toFixed(2)} (${t.ratio.min.toFixed(2)}–${t.ratio.max.toFixed(2)})` : "1",
				t.peerRatio
					? `${t.peerRatio.median.toFixed(2)} (${t.peerRatio.min.toFixed(2)}–${t.peerRatio.max.toFixed(2)}) ${t.peerRatio.peer}`
					: "",
				num(t.p50, 1),
				num(t.p99, 1),
				String(t.errors),
				Object.entries(t.cpuMicrosPerRequest)
					.map(([k, v]) => `${k} ${num(v)}`)
					.join(", "),
				Object.entries(t.peakRssBytes)
					.map(([k, v]) => `${k} ${mb(v)}`)
					.join(", ")
			]);
		}
	}
	const lines = pad(rows);
	lines.splice(1, 0, "-".repeat(lines[0].length));
	for (const s of report.scenarios) for (const note of s.notes) lines.push(`  ${s.scenario}: ${note}`);
	if (report.ready.length) {
		lines.push("");
		const ready: string[][] = [["node kind", "", "start→ready ms (median)", "max", "idle RSS MB (max)"]];
		for (const r of report.ready) {
			ready.push([r.kind, "", num(median(r.ms)), num(Math.max(...r.ms)), mb(Math.max(...r.idleRssBytes))]);
		}
		lines.push(...pad(ready));
	}
	return lines;
}

export function printTable(report: BenchReport): void {
	for (const line of tableLines(report)) console.log(line);
}

function median(values: number[]): number {
	const sorted = [...values].sort((a, b) => a - b);
	const mid = Math.floor(sorted.length / 2);
	return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function find(report: BenchReport, prefix: string, target: string): TargetResult | undefined {
	return report.scenarios.find(s => s.scenario.startsWith(prefix))?.targets.find(t => t.name === target);
}

function goal(goal: string, met: boolean | null, figure: string): Goal {
	return { goal, met, figure };
}

const NOT_RUN = "scenario not run";

function ratioFigure(r: { median: number; min: number; max: number }): string {
	return `${r.median.toFixed(2)}× (rounds ${r.min.toFixed(2)}–${r.max.toFixed(2)})`;
}

/** Every performance goal with its figure; `met: null` when its scenario (or peer) did not run. */
export function evaluateGoals(report: BenchReport, bigUsers: number): Goal[] {
	const goals: Goal[] = [];
	const cluster = find(report, "cluster: GET /users/:id", "cluster");
	const nestGoal = "cluster, all features on: ≥ 1.5× the NestJS peer";
	const gatewayCpu = cluster?.cpuMicrosPerRequest.gateway;
	goals.push(
		cluster?.peerRatio
			? goal(nestGoal, cluster.peerRatio.median >= 1.5, ratioFigure(cluster.peerRatio))
			: goal(nestGoal, null, cluster ? "peer not run" : NOT_RUN),
		cluster?.ratio
			? goal("cluster, all features on: ≥ 0.25× bare", cluster.ratio.median >= 0.25, ratioFigure(cluster.ratio))
			: goal("cluster, all features on: ≥ 0.25× bare", null, NOT_RUN),
		cluster
			? goal(
					"cluster p99 ≤ 25 ms at 50 connections",
					cluster.p99 <= 25,
					`median p99 ${cluster.p99.toFixed(1)} ms (worst round ${cluster.p99Max.toFixed(1)} ms)`
				)
			: goal("cluster p99 ≤ 25 ms at 50 connections", null, NOT_RUN),
		cluster
			? goal("cluster: zero errors", cluster.errors === 0, `${cluster.errors} errors`)
			: goal("cluster: zero errors", null, NOT_RUN),
		gatewayCpu !== undefined && Number.isFinite(gatewayCpu)
			? goal("gateway CPU per authenticated read ≤ 120 µs", gatewayCpu <= 120, `${gatewayCpu.toFixed(0)} µs`)
			: goal("gateway CPU per authenticated read ≤ 120 µs", null, NOT_RUN)
	);
	const embedded = find(report, "embedded", "embedded");
	const fastifyGoal = "embedded default: ≥ 1.0× the fastify full-feature peer";
	goals.push(
		embedded?.peerRatio
			? goal(fastifyGoal, embedded.peerRatio.median >= 1.0, ratioFigure(embedded.peerRatio))
			: goal(fastifyGoal, null, embedded ? "peer not run" : NOT_RUN)
	);
	const list = report.scenarios.find(s => s.scenario.startsWith("cluster: GET /users?page"));
	const pages = list?.extra?.uncachedPageMs as { users: number; medianMs: number }[] | undefined;
	const listGoal = `list page at ${bigUsers.toLocaleString("en")} users ≤ 1.5× its time at 1,000`;
	if (pages && pages.length === 2) {
		const ratio = pages[1].medianMs / pages[0].medianMs;
		goals.push(
			goal(
				listGoal,
				ratio <= 1.5,
				`${ratio.toFixed(2)}× (uncached page ${pages[0].medianMs.toFixed(2)} → ${pages[1].medianMs.toFixed(2)} ms)`
			)
		);
	} else goals.push(goal(listGoal, null, NOT_RUN));

	// Peak RSS under load of every gateway and users process, in every load scenario.
	const peak = (label: RegExp): number => {
		let max = NaN;
		for (const s of report.scenarios) {
			for (const t of s.targets) {
				for (const [k, v] of Object.entries(t.peakRssBytes)) {
					if (label.test(k) && !(v <= max)) max = v;
				}
			}
		}
		return max;
	};
	const gw = peak(/^gateway$/);
	const users = peak(/^users\d*$/);
	goals.push(
		Number.isFinite(gw)
			? goal("peak RSS under load: gateway ≤ 200 MB", gw <= 200 * MB, `${mb(gw)} MB`)
			: goal("peak RSS under load: gateway ≤ 200 MB", null, NOT_RUN),
		Number.isFinite(users)
			? goal("peak RSS under load: users node ≤ 150 MB", users <= 150 * MB, `${mb(users)} MB`)
			: goal("peak RSS under load: users node ≤ 150 MB", null, NOT_RUN)
	);
	if (report.ready.length) {
		const idle = Math.max(...report.ready.flatMap(r => r.idleRssBytes));
		const worst = report.ready.reduce((a, r) => (Math.max(...r.ms) > Math.max(...a.ms) ? r : a));
		goals.push(
			goal("idle RSS ≤ 100 MB (every node kind)", idle <= 100 * MB, `max ${mb(idle)} MB`),
			goal(
				"a node is ready ≤ 2 s after start",
				Math.max(...worst.ms) <= 2000,
				`slowest: ${worst.kind} ${Math.max(...worst.ms).toFixed(0)} ms`
			)
		);
	} else {
		goals.push(
			goal("idle RSS ≤ 100 MB (every node kind)", null, NOT_RUN),
			goal("a node is ready ≤ 2 s after start", null, NOT_RUN)
		);
	}
	return goals;
}

export function goalLines(goals: Goal[]): string[] {
	return goals.map(g => `${g.met === null ? "n/a    " : g.met ? "MET    " : "NOT MET"}  ${g.goal}: ${g.figure}`);
}

export function printGoals(goals: Goal[]): void {
	console.log("Goals (issues 5 and 13):");
	for (const line of goalLines(goals)) console.log(`  ${line}`);
}
