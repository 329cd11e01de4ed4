import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { MAIN, ROOT, type NodeProcess } from "../support/node-process";

/**
 * "Hosts" for the cross-host tests: one Linux network namespace per host on
 * a private /24, wired to a switch: a bridge in a namespace of its own
 * (`rncph-sw`), so its traffic never meets the root namespace's firewall
 * (Docker's `FORWARD DROP` policy drops bridged packets on a root bridge
 * when br_netfilter is loaded) and nothing of the machine's network setup
 * changes. The root namespace has one port on the switch too, so a client
 * there (the test) reaches every host. Cutting a host's cable is
 * `ip link set <its port> down` on the switch: the host keeps its address and
 * its processes, but its packets go nowhere (no RST, no ICMP), as with a
 * pulled cable or a partitioned network.
 *
 * Every name starts with `PREFIX`, so leftovers of an interrupted run can be
 * found and removed (`removeLeftovers`).
 */

export const PREFIX = "rncph-";
export const SUBNET = "10.213.47";
/** The namespace of the switch (a bridge named `br0` in it). */
export const SWITCH = `${PREFIX}sw`;
/** The root namespace's port on the switch, and its address. */
const UPLINK = `${PREFIX}up`;
const UPLINK_ADDRESS = `${SUBNET}.1`;

export interface Host {
	name: string;
	/** The network namespace (`ip netns`). */
	netns: string;
	/** The host's address on the bridge's /24. */
	address: string;
	/** The switch's port of the host (in `SWITCH`): its "cable". */
	port: string;
}

function ip(...args: string[]): string {
	return execFileSync("ip", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** Why the tests cannot create namespaces here, or undefined when they can. */
export function netnsUnavailable(): string | undefined {
	if (process.platform !== "linux") return `not Linux (${process.platform})`;
	if (process.getuid?.() !== 0) return "not root (network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN)";
	if (spawnSync("ip", ["-V"]).status !== 0) return "no `ip` command (Debian package iproute2)";
	const probe = `${PREFIX}probe`;
	const added = spawnSync("ip", ["netns", "add", probe], { encoding: "utf8" });
	if (added.status !== 0) return `\`ip netns add\` failed: ${added.stderr.trim()}`;
	spawnSync("ip", ["netns", "del", probe]);
	return undefined;
}

/** Kills processes and deletes namespaces and links of ours left by an earlier run. */
export function removeLeftovers(): void {
	const namespaces = ip("netns", "list")
		.split("\n")
		.map(line => line.split(" ")[0])
		.filter(name => name.startsWith(PREFIX));
	for (const ns of namespaces) {
		const pids = spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).stdout.split(/\s+/).filter(Boolean);
		for (const pid of pids) {
			try {
				process.kill(Number(pid), "SIGKILL");
			} catch {
				// Already gone.
			}
		}
		// Deleting a namespace deletes its veth ends, and so their peers.
		spawnSync("ip", ["netns", "del", ns]);
	}
	const links = ip("-o", "link", "show")
		.split("\n")
		.map(line => /^\d+:\s+([^:@\s]+)/.exec(line)?.[1])
		.filter((name): name is string => !!name && name.startsWith(PREFIX));
	for (const link of links) spawnSync("ip", ["link", "del", link]);
}

/** The switch and one namespace per name, addressed `.10`, `.11`, … in order. */
export function createHosts(names: string[]): Host[] {
	ip("netns", "add", SWITCH);
	ip("-n", SWITCH, "link", "add", "br0", "type", "bridge");
	ip("-n", SWITCH, "link", "set", "br0", "up");
	ip("link", "add", UPLINK, "type", "veth", "peer", "name", "uplink", "netns", SWITCH);
	ip("-n", SWITCH, "link", "set", "uplink", "master", "br0", "up");
	ip("addr", "add", `${UPLINK_ADDRESS}/24`, "dev", UPLINK);
	ip("link", "set", UPLINK, "up");
	return names.map((name, i) => {
		const host: Host = { name, netns: `${PREFIX}${name}`, address: `${SUBNET}.${10 + i}`, port: name };
		ip("netns", "add", host.netns);
		ip("-n", SWITCH, "link", "add", host.port, "type", "veth", "peer", "name", "eth0", "netns", host.netns);
		ip("-n", SWITCH, "link", "set", host.port, "master", "br0", "up");
		ip("-n", host.netns, "addr", "add", `${host.address}/24`, "dev", "eth0");
		ip("-n", host.netns, "link", "set", "eth0", "up");
		ip("-n", host.netns, "link", "set", "lo", "up");
		return host;
	});
}

/** Unplugs (`false`) or plugs back (`true`) the host's cable. */
export function setLink(host: Host, up: boolean): void {
	ip("-n", SWITCH, "link", "set", host.port, up ? "up" : "down");
}

/** Runs `command` on `host` (`ip netns exec`, which execs it: the pid is the command's). */
export function spawnOn(host: Host, command: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
	return spawn("ip", ["netns", "exec", host.netns, command, ...args], {
		cwd: ROOT,
		env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
		stdio: ["ignore", "pipe", "pipe"]
	});
}

/** A node (`node dist/src/main.js`) on `host`, as test/support/node-process.ts starts one on loopback. */
export function startNodeOn(host: Host, services: string, nodeID: string, env: Record<string, string>): NodeProcess {
	const child = spawnOn(host, process.execPath, [MAIN], {
		LOG_FORMAT: "json",
		LOGLEVEL: "info",
		...env,
		SERVICES: services,
		NODEID: nodeID
	});
	let out = "";
	child.stdout?.on("data", chunk => (out += chunk));
	child.stderr?.on("data", chunk => (out += chunk));
	const exited = new Promise<number | null>(resolve => child.once("exit", code => resolve(code)));
	return {
		nodeID,
		process: child,
		output: () => out,
		exited,
		async stop(signal: NodeJS.Signals = "SIGTERM") {
			if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
			child.kill(signal);
			return exited;
		}
	};
}
