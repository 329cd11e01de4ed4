import autocannon from "autocannon";
import { cpuMicros, RssSampler } from "./proc";

/** A process whose CPU and memory count for a target. */
export interface Watched {
	label: string;
	pid: number;
}

export interface RequestSpec {
	method: "GET" | "POST";
	/** A fixed path, or one drawn anew for every request. */
	path: string | (() => string);
	headers?: Record<string, string>;
	/** `[<id>]` in the body is replaced by a fresh random id per request. */
	body?: string;
}

/** What one scenario loads: the bare server or a product configuration. */
export interface Target {
	name: string;
	url: string;
	watch: Watched[];
	request: RequestSpec;
}

export interface LoadOptions {
	rounds: number;
	seconds: number;
	warmupSeconds: number;
	connections: number;
	/** Hard cap on requests per run, whatever the duration. */
	maxRequests?: number;
	/**
	 * Fixed request rate (req/s over all connections) instead of as fast as
	 * possible: for comparing CPU per request of variants below saturation,
	 * where a busy shared machine distorts it least.
	 */
	rate?: number;
}

export interface RoundResult {
	rps: number;
	p50: number;
	p99: number;
	responses: number;
	/** Connection errors + timeouts + non-2xx answers. */
	errors: number;
	statusCodes: Record<string, number>;
	cpuMicrosPerRequest: Record<string, number>;
	peakRssBytes: Record<string, number>;
}

export interface TargetResult {
	name: string;
	rounds: RoundResult[];
	rps: number;
	p50: number;
	p99: number;
	/** Worst round's p99. */
	p99Max: number;
	/** This target's req/s over the bare server's in the same round (median, min, max). */
	ratio: { median: number; min: number; max: number } | null;
	/** A product target's req/s over a peer's in the same round (set by the scenario). */
	peerRatio?: { peer: string; median: number; min: number; max: number };
	errors: number;
	cpuMicrosPerRequest: Record<string, number>;
	peakRssBytes: Record<string, number>;
}

export function median(values: number[]): number {
	if (values.length === 0) return NaN;
	const sorted = [...values].sort((a, b) => a - b);
	const mid = Math.floor(sorted.length / 2);
	return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function toRequest(spec: RequestSpec): autocannon.Request {
	const request: autocannon.Request = {
		method: spec.method,
		path: typeof spec.path === "string" ? spec.path : spec.path(),
		headers: { ...spec.headers, ...(spec.body ? { "content-type": "application/json" } : {}) },
		body: spec.body
	};
	const next = spec.path;
	if (typeof next === "function") {
		request.setupRequest = req => ({ ...req, path: next() });
	}
	return request;
}

/** One bounded autocannon run against `target`, with CPU and RSS of its processes. */
export async function runOnce(target: Target, seconds: number, opts: LoadOptions): Promise<RoundResult> {
	const cpuBefore = target.watch.map(w => cpuMicros(w.pid) ?? 0);
	const sampler = new RssSampler(target.watch.map(w => w.pid)).start();
	const result = await autocannon({
		url: target.url,
		connections: opts.connections,
		duration: seconds,
		maxOverallRequests: opts.maxRequests ?? 1_000_000,
		...(opts.rate ? { overallRate: opts.rate } : {}),
		timeout: 10,
		idReplacement: target.request.body?.includes("[<id>]") ?? false,
		requests: [toRequest(target.request)]
	});
	const peaks = sampler.stop();
	const statusCodes: Record<string, number> = {};
	let responses = 0;
	for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) {
		statusCodes[code] = (stat as { count: number }).count;
		responses += statusCodes[code];
	}
	const cpuMicrosPerRequest: Record<string, number> = {};
	const peakRssBytes: Record<string, number> = {};
	target.watch.forEach((w, i) => {
		const after = cpuMicros(w.pid);
		cpuMicrosPerRequest[w.label] = after != null && responses > 0 ? (after - cpuBefore[i]) / responses : NaN;
		peakRssBytes[w.label] = peaks.get(w.pid) ?? NaN;
	});
	return {
		rps: responses / result.duration,
		p50: result.latency.p50,
		p99: result.latency.p99,
		responses,
		errors: result.errors + result.non2xx,
		statusCodes,
		cpuMicrosPerRequest,
		peakRssBytes
	};
}

/**
 * Loads the reference (`targets[0]`, the bare server) and each other target in
 * adjacent pairs, `rounds` times, after a warm-up run of each. Within a round
 * the targets' order rotates and each pair alternates which side runs first,
 * so neither side is systematically the one after a switch. A target's ratio
 * is taken per pair, against the reference run right beside it: the load
 * other users put on a shared machine changes within seconds, and a ratio of
 * two runs a few seconds apart cancels most of it, where absolute req/s do not.
 */
export async function runInterleaved(
	targets: Target[],
	opts: LoadOptions,
	onRound?: (round: number, name: string, r: RoundResult) => void
): Promise<TargetResult[]> {
	for (const target of targets) {
		if (opts.warmupSeconds > 0) await runOnce(target, opts.warmupSeconds, opts);
	}
	const [reference, ...others] = targets;
	const runs = targets.map(() => [] as RoundResult[]);
	const pairedReference = others.map(() => [] as RoundResult[]);
	for (let round = 0; round < opts.rounds; round++) {
		for (let k = 0; k < others.length; k++) {
			const i = (k + round) % others.length;
			const referenceFirst = (round + k) % 2 === 0;
			const order: [Target, number][] = referenceFirst
				? [
						[reference, 0],
						[others[i], i + 1]
					]
				: [
						[others[i], i + 1],
						[reference, 0]
					];
			for (const [target, index] of order) {
				const r = await runOnce(target, opts.seconds, opts);
				runs[index].push(r);
				if (index === 0) pairedReference[i].push(r);
				onRound?.(round, target.name, r);
			}
		}
	}
	return targets.map((target, i) => summarize(target, runs[i], i === 0 ? null : pairedReference[i - 1]));
}

export function summarize(target: Target, rounds: RoundResult[], reference: RoundResult[] | null): TargetResult {
	const ratios = reference ? rounds.map((r, i) => r.rps / reference[i].rps) : [];
	const cpu: Record<string, number> = {};
	const rss: Record<string, number> = {};
	for (const w of target.watch) {
		cpu[w.label] = median(rounds.map(r => r.cpuMicrosPerRequest[w.label]));
		rss[w.label] = Math.max(...rounds.map(r => r.peakRssBytes[w.label]));
	}
	return {
		name: target.name,
		rounds,
		rps: median(rounds.map(r => r.rps)),
		p50: median(rounds.map(r => r.p50)),
		p99: median(rounds.map(r => r.p99)),
		p99Max: Math.max(...rounds.map(r => r.p99)),
		ratio: ratios.length ? { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) } : null,
		errors: rounds.reduce((n, r) => n + r.errors, 0),
		cpuMicrosPerRequest: cpu,
		peakRssBytes: rss
	};
}
