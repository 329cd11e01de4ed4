import { execFile, spawn, spawnSync } from "node:child_process";
import { closeSync, mkdirSync, openSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { waitFor } from "../support/redis-server";

/**
 * The Docker engine and compose project of the compose test: an engine that
 * already answers is used as it is; otherwise `dockerd --storage-driver=vfs`
 * is started here (log and pidfile under test-artifacts/) and stopped again by
 * `stop()`. Only an engine started here is ever stopped.
 */

const run = promisify(execFile);
export const ROOT = path.resolve(__dirname, "..", "..");
const ARTIFACTS = path.join(ROOT, "test-artifacts", "docker");

/** Why the compose test cannot run on this machine, or undefined when it can. */
export function missingTools(): string | undefined {
	for (const tool of ["docker", "docker-compose", "dockerd", "debootstrap"]) {
		if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) return `${tool} is not installed`;
	}
	if (process.getuid?.() !== 0 && spawnSync("docker", ["info"], { stdio: "ignore" }).status !== 0) {
		return "no Docker engine answers and only root can start one";
	}
	return undefined;
}

export interface Engine {
	startedHere: boolean;
	stop(): Promise<void>;
}

async function answers(): Promise<boolean> {
	try {
		await run("docker", ["info", "--format", "{{.ServerVersion}}"], { timeout: 10_000 });
		return true;
	} catch {
		return false;
	}
}

export async function ensureEngine(): Promise<Engine> {
	if (await answers()) return { startedHere: false, stop: async () => undefined };
	mkdirSync(ARTIFACTS, { recursive: true });
	const pidfile = path.join(ARTIFACTS, "dockerd.pid");
	const log = openSync(path.join(ARTIFACTS, "dockerd.log"), "a");
	const child = spawn("dockerd", ["--storage-driver=vfs", "--pidfile", pidfile], {
		stdio: ["ignore", log, log],
		detached: true
	});
	closeSync(log);
	const exited = new Promise<void>(resolve => child.once("exit", () => resolve()));
	await waitFor(answers, {
		timeoutMs: 60_000,
		intervalMs: 500,
		what: "dockerd to answer (test-artifacts/docker/dockerd.log)"
	});
	return {
		startedHere: true,
		async stop() {
			if (child.exitCode !== null || child.signalCode !== null) return;
			child.kill("SIGTERM");
			const killed = setTimeout(() => child.kill("SIGKILL"), 30_000);
			await exited;
			clearTimeout(killed);
		}
	};
}

/** Runs a command; resolves stdout, rejects with stderr in the message. */
export async function sh(
	file: string,
	args: string[],
	opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}
): Promise<string> {
	try {
		const { stdout } = await run(file, args, {
			cwd: ROOT,
			env: opts.env ?? process.env,
			timeout: opts.timeoutMs ?? 120_000,
			maxBuffer: 64 * 1024 * 1024
		});
		return stdout;
	} catch (err) {
		const e = err as Error & { stderr?: string; stdout?: string };
		throw new Error(`${file} ${args.join(" ")} failed: ${e.message}\n${e.stderr ?? ""}`.slice(0, 8000));
	}
}

/** A compose project of its own name, so nothing else is ever touched. */
export class ComposeProject {
	constructor(
		readonly name: string,
		readonly env: NodeJS.ProcessEnv
	) {}

	compose(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<string> {
		return sh("docker-compose", ["-p", this.name, "-f", "docker-compose.yml", ...args], {
			env: { ...this.env, ...opts.env },
			timeoutMs: opts.timeoutMs
		});
	}

	/** `docker ps -a` rows of this project: id, compose service, state and health. */
	async containers(): Promise<{ id: string; name: string; service: string; state: string; status: string }[]> {
		const out = await sh("docker", [
			"ps",
			"-a",
			"--filter",
			`label=com.docker.compose.project=${this.name}`,
			"--format",
			'{{.ID}}\t{{.Names}}\t{{.Label "com.docker.compose.service"}}\t{{.State}}\t{{.Status}}'
		]);
		return out
			.trim()
			.split("\n")
			.filter(Boolean)
			.map(line => {
				const [id, name, service, state, status] = line.split("\t");
				return { id, name, service, state, status };
			});
	}

	async running(service: string): Promise<string[]> {
		return (await this.containers()).filter(c => c.service === service && c.state === "running").map(c => c.id);
	}

	/**
	 * Waits until the project runs exactly `replicas` containers per service,
	 * all healthy, and the one-shot jwt-secret has exited 0.
	 */
	async waitHealthy(replicas: Record<string, number>, timeoutMs = 240_000): Promise<void> {
		let last = "";
		await waitFor(
			async () => {
				const all = await this.containers();
				last = all.map(c => `${c.service}: ${c.status}`).join("; ");
				const secret = all.filter(c => c.service === "jwt-secret");
				if (secret.length !== 1 || !/^Exited \(0\)/.test(secret[0].status)) return false;
				return Object.entries(replicas).every(([service, n]) => {
					const mine = all.filter(c => c.service === service && c.state === "running");
					return mine.length === n && mine.every(c => c.status.includes("(healthy)"));
				});
			},
			{ timeoutMs, intervalMs: 1000, what: `a healthy project ${JSON.stringify(replicas)}` }
		).catch((err: Error) => {
			throw new Error(`${err.message}\nlast seen: ${last}`);
		});
	}

	/** What is left of the project in the engine: containers, volumes, networks. */
	async leftovers(): Promise<string[]> {
		const label = `label=com.docker.compose.project=${this.name}`;
		const lists = await Promise.all([
			sh("docker", ["ps", "-aq", "--filter", label]),
			sh("docker", ["volume", "ls", "-q", "--filter", label]),
			sh("docker", ["network", "ls", "-q", "--filter", label])
		]);
		return lists.flatMap(out => out.trim().split("\n").filter(Boolean));
	}
}

/** Whether each base image is a Debian stand-in (scripts/docker/stand-in-images.sh) or the upstream one. */
export async function baseImageOrigins(tags: string[]): Promise<Record<string, string>> {
	const origins: Record<string, string> = {};
	for (const tag of tags) {
		const label = (
			await sh("docker", ["image", "inspect", "--format", '{{index .Config.Labels "rncp.stand-in"}}', tag])
		).trim();
		origins[tag] = label && label !== "<no value>" ? `stand-in (${label})` : "upstream";
	}
	return origins;
}
