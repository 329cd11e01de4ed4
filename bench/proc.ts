import { readFileSync } from "node:fs";

/*
 * Per-process CPU time and memory, read from /proc (Linux only). CPU times in
 * /proc/<pid>/stat are in clock ticks: 100 per second on every Linux this
 * project targets (`getconf CLK_TCK`).
 */
const TICKS_PER_SECOND = 100;

/** User + system CPU time of `pid` so far, in microseconds; null once the process is gone. */
export function cpuMicros(pid: number): number | null {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
		// The command name (field 2) may hold spaces: count fields after its closing parenthesis.
		const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
		const utime = Number(fields[11]);
		const stime = Number(fields[12]);
		return ((utime + stime) * 1e6) / TICKS_PER_SECOND;
	} catch {
		return null;
	}
}

/** Resident set size of `pid` in bytes; null once the process is gone. */
export function rssBytes(pid: number): number | null {
	try {
		const status = readFileSync(`/proc/${pid}/status`, "utf8");
		const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
		return match ? Number(match[1]) * 1024 : null;
	} catch {
		return null;
	}
}

/** Samples the RSS of some processes every `intervalMs` and keeps each one's peak. */
export class RssSampler {
	private readonly peaks = new Map<number, number>();
	private timer?: NodeJS.Timeout;

	constructor(
		private readonly pids: number[],
		private readonly intervalMs = 200
	) {}

	start(): this {
		this.sample();
		this.timer = setInterval(() => this.sample(), this.intervalMs);
		return this;
	}

	/** Stops sampling; resolves each pid's peak RSS in bytes. */
	stop(): Map<number, number> {
		clearInterval(this.timer);
		this.sample();
		return this.peaks;
	}

	private sample(): void {
		for (const pid of this.pids) {
			const rss = rssBytes(pid);
			if (rss != null && rss > (this.peaks.get(pid) ?? 0)) this.peaks.set(pid, rss);
		}
	}
}
