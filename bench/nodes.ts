import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync, rmSync } from "node:fs";
import path from "node:path";
import { PROJECT_ROOT as ROOT } from "../src/paths";

export { ROOT };

/** The entry `npm start` runs. */
export const MAIN = path.join(ROOT, "dist", "src", "main.js");
export const BARE = path.join(ROOT, "dist", "bench", "bare-server.js");
export const RESULTS_DIR = path.join(ROOT, "bench", "results");
export const LOG_DIR = path.join(RESULTS_DIR, "logs");

export interface Proc {
	/** Short label in tables: `gateway`, `users`, `bare`… */
	label: string;
	pid: number;
	child: ChildProcess;
	logFile: string;
	startedAt: number;
	exited: Promise<number | null>;
	stop(): Promise<void>;
}

const running = new Set<Proc>();

/**
 * Empties the log folder: it holds the last run's node logs only (an access
 * log line per request makes a full run's logs a few hundred MB).
 */
export function resetLogs(): void {
	rmSync(LOG_DIR, { recursive: true, force: true });
	mkdirSync(LOG_DIR, { recursive: true });
}

/**
 * Spawns a process whose output goes straight to a log file (a pipe read by the
 * bench would cost the bench CPU and memory under an access log at full load).
 */
export function spawnProc(
	label: string,
	file: string,
	env: Record<string, string | undefined>,
	nodeFlags: string[] = []
): Proc {
	mkdirSync(LOG_DIR, { recursive: true });
	const logFile = path.join(LOG_DIR, `${label}-${Date.now()}.log`);
	const fd = openSync(logFile, "w");
	const startedAt = performance.now();
	const child = spawn(process.execPath, [...nodeFlags, file], {
		cwd: ROOT,
		// NODE_OPTIONS of the bench reaches every process it starts: how runtime
		// flags (e.g. --max-semi-space-size) are measured.
		env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_OPTIONS: process.env.NODE_OPTIONS, ...env },
		stdio: ["ignore", fd, fd]
	});
	closeSync(fd);
	const exited = new Promise<number | null>(resolve => child.once("exit", code => resolve(code)));
	const proc: Proc = {
		label,
		pid: child.pid ?? -1,
		child,
		logFile,
		startedAt,
		exited,
		async stop() {
			running.delete(proc);
			if (child.exitCode !== null || child.signalCode !== null) return;
			child.kill("SIGTERM");
			const timer = setTimeout(() => child.kill("SIGKILL"), 12_000);
			await exited;
			clearTimeout(timer);
		}
	};
	running.add(proc);
	return proc;
}

/** The runtime flags `npm start` and the Dockerfile give every node (measured in docs/performance.md). */
export const PRODUCT_NODE_FLAGS = ["--max-semi-space-size=8"];
/**
 * What `npm start` adds to the environment: glibc returns freed blocks of
 * 128 KiB and more to the system (scrypt's 16 MiB buffers otherwise stay in
 * the libuv threads' arenas). The image's musl does so by itself.
 */
export const PRODUCT_NODE_ENV = { MALLOC_MMAP_THRESHOLD_: "131072" };

/**
 * Starts one node the way the README does: `SERVICES=… node dist/src/main.js`,
 * with the runtime flags of `npm start`.
 * `BENCH_MAIN` in `env` runs another build instead (a before/after variant:
 * another commit built elsewhere, loaded in the same rounds).
 */
export function startNode(label: string, env: Record<string, string | undefined>): Proc {
	const { BENCH_MAIN: main, ...rest } = env;
	return spawnProc(label, main ?? MAIN, { ...PRODUCT_NODE_ENV, ...rest }, PRODUCT_NODE_FLAGS);
}

/** Stops every process this bench started and has not stopped yet (only those, by pid). */
export async function stopAll(): Promise<void> {
	await Promise.all([...running].map(p => p.stop()));
}
