import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { freePort, waitFor } from "../support/redis-server";
import { startNode, uniqueNamespace, type NodeProcess } from "../support/node-process";

const redisUrl = () => process.env.TEST_REDIS_URL as string;
// eslint-disable-next-line no-control-regex -- the REPL colours its output
const plain = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, "");

/** TCP ports a process listens on: its sockets (fd links) matched with the LISTEN rows of its network namespace. */
function listeningPorts(pid: number): number[] {
	const inodes = new Set<string>();
	for (const fd of readdirSync(`/proc/${pid}/fd`)) {
		try {
			const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
			if (m) inodes.add(m[1]);
		} catch {
			// the fd closed while we listed them
		}
	}
	const ports: number[] = [];
	for (const table of ["tcp", "tcp6"]) {
		for (const row of readFileSync(`/proc/${pid}/net/${table}`, "utf8").split("\n").slice(1)) {
			const cols = row.trim().split(/\s+/);
			// cols: sl local_address rem_address st … inode (10th column)
			if (cols.length > 9 && cols[3] === "0A" && inodes.has(cols[9])) {
				ports.push(parseInt(cols[1].split(":")[1], 16));
			}
		}
	}
	return ports;
}

describe("a bare node (--repl --no-services)", () => {
	const namespace = uniqueNamespace("bare");
	let users: NodeProcess;
	let repl: NodeProcess;
	let env: Record<string, string>;

	beforeAll(async () => {
		// Every port variable a node of any kind reads, as a container's environment gives them.
		env = {
			REDIS_URL: redisUrl(),
			NAMESPACE: namespace,
			METRICS_PORT: String(await freePort()),
			HEALTH_PORT: String(await freePort()),
			PORT: String(await freePort()),
			WWW_PORT: String(await freePort())
		};
		users = startNode({ services: "users", nodeID: `${namespace}-u1`, env });
		await waitFor(() => listeningPorts(users.process.pid as number).includes(Number(env.METRICS_PORT)), {
			timeoutMs: 20_000,
			what: "the users node's metrics port"
		});
	}, 30_000);

	afterAll(async () => {
		await repl?.stop("SIGTERM");
		await users?.stop("SIGTERM");
	}, 20_000);

	it("joins the cluster beside a node with the same environment, answers `call users.count`, and listens on no port", async () => {
		// Same METRICS_PORT as the users node: a second endpoint would die with EADDRINUSE.
		repl = startNode({
			services: "users,api,www",
			nodeID: `${namespace}-u1`,
			env,
			args: ["--repl", "--no-services"]
		});
		const stdin = repl.process.stdin as NodeJS.WritableStream;
		await waitFor(() => repl.output().includes("mol $"), { timeoutMs: 20_000, what: "the REPL prompt" });
		// The REPL node has discovered the users service once `services` lists it.
		await waitFor(
			async () => {
				stdin.write("call users.count\n");
				await new Promise(r => setTimeout(r, 300));
				return />> Response:\s*\d+/.test(plain(repl.output()));
			},
			{ timeoutMs: 20_000, intervalMs: 200, what: "an answer to `call users.count`" }
		);

		expect(repl.process.exitCode).toBeNull();
		expect(repl.output()).not.toMatch(/EADDRINUSE/);
		expect(listeningPorts(repl.process.pid as number)).toEqual([]);
		// The users node kept its own port.
		expect(listeningPorts(users.process.pid as number)).toContain(Number(env.METRICS_PORT));

		stdin.end();
		expect(await repl.exited).toBe(0);
	});
});
