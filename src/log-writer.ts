import { writeSync } from "node:fs";
import { Loggers } from "moleculer";

type Bindings = Parameters<Loggers.Console["getLogHandler"]>[0];
type LogHandler = ReturnType<Loggers.Console["getLogHandler"]>;
type Level = Loggers.LogLevels;

/** Past this many buffered characters, write without waiting for the end of the turn. */
const MAX_PENDING = 64 * 1024;

const LEVELS: readonly Level[] = ["fatal", "error", "warn", "info", "debug", "trace"];
/** Severity rank of each level (fatal 0 … trace 5), looked up once per line. */
const RANK = new Map<string, number>(LEVELS.map((level, i) => [level, i]));
const WARN = RANK.get("warn") as number;

/**
 * Lines waiting for the next write to stdout. Writing each line as it comes
 * (console.log) costs a write system call per line: with an access log, one
 * per request, about a tenth of the gateway's CPU under load. Lines logged in
 * the same event-loop turn leave in one write instead.
 */
let pending = "";
let scheduled = false;

function flush(): void {
	scheduled = false;
	if (!pending) return;
	const chunk = pending;
	pending = "";
	process.stdout.write(chunk);
}

function flushSync(): void {
	if (!pending) return;
	const chunk = pending;
	pending = "";
	try {
		writeSync(1, chunk);
	} catch {
		// stdout gone (closed pipe): nothing left to tell.
	}
}

// Lines still buffered when the process ends (exit, fatal error) are written synchronously.
process.once("exit", flushSync);

/**
 * Moleculer's Console logger, same formatters and levels, writing through
 * the buffer above. Warnings and errors go to stderr at once, after what
 * stdout had buffered, so the two streams keep their relative order.
 */
export class BufferedConsoleLogger extends Loggers.Console {
	override getLogHandler(bindings: Bindings): LogHandler {
		const level = bindings ? this.getLogLevel(bindings.mod) : null;
		if (!level) return null;
		const levelIdx = RANK.get(level) as number;
		const formatter = this.getFormatter(bindings);

		return (type, args) => {
			const typeIdx = RANK.get(type) ?? 0;
			if (typeIdx > levelIdx) return;
			const parts = formatter(type, args);
			const line = `${parts.length === 1 ? parts[0] : parts.join(" ")}\n`;
			if (typeIdx <= WARN) {
				flushSync();
				process.stderr.write(line);
				return;
			}
			pending += line;
			if (pending.length > MAX_PENDING) flush();
			else if (!scheduled) {
				scheduled = true;
				setImmediate(flush);
			}
		};
	}
}
