import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

/*
 * `node dist/bench/profile-summary.js DIR [DIR…]`: self time by package of the
 * V8 CPU profiles (`node --cpu-prof`) in each directory, one table per
 * profile. A frame counts for the package of its script: `node_modules/<pkg>`
 * (scoped packages whole), the product's own files (`product`), Node's
 * internals (`node`), or V8's pseudo-frames (GC, program, idle).
 */

interface ProfileNode {
	id: number;
	callFrame: { functionName: string; url: string };
	children?: number[];
}

interface Profile {
	nodes: ProfileNode[];
	samples: number[];
	timeDeltas: number[];
}

function packageOf(node: ProfileNode): string {
	const { url, functionName } = node.callFrame;
	if (!url) return functionName.startsWith("(") ? functionName : "(native)";
	const modules = url.lastIndexOf("node_modules/");
	if (modules >= 0) {
		const parts = url.slice(modules + "node_modules/".length).split("/");
		return parts[0].startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0];
	}
	if (url.startsWith("node:")) return "node";
	return "product";
}

/**
 * Self time by package. Built-ins without a script (JSON.stringify, RegExp
 * exec, Map operations…) count for the package that called them.
 */
export function selfTimeByPackage(profile: Profile): Map<string, number> {
	const byId = new Map(profile.nodes.map(n => [n.id, n]));
	const parent = new Map<number, number>();
	for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
	const owner = (id: number): string => {
		for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
			const pkg = packageOf(byId.get(at) as ProfileNode);
			if (pkg !== "(native)") return pkg;
		}
		return "(native)";
	};
	const totals = new Map<string, number>();
	profile.samples.forEach((id, i) => {
		const pkg = owner(id);
		totals.set(pkg, (totals.get(pkg) ?? 0) + (profile.timeDeltas[i] ?? 0));
	});
	return totals;
}

/** Which process a profile is: its product root and whether it ran the gateway, the users service, or a peer. */
function describe(profile: Profile): string {
	const urls = new Set(profile.nodes.map(n => n.callFrame.url));
	const has = (part: string) => [...urls].some(u => u.includes(part));
	const root = [...urls].find(u => u.includes("/dist/src/main.js"))?.replace(/\/dist\/src\/main\.js$/, "") ?? "";
	if (has("node_modules/fastify/")) return "fastify peer";
	if (has("node_modules/@nestjs/")) return has("platform-express") ? "nest gateway" : "nest users";
	if (has("bench/bare-server")) return "bare";
	// Only a gateway over a transporter sends requests to another node.
	const remote = profile.nodes.some(n => n.callFrame.functionName === "_sendRequest");
	const kind = !has("moleculer-web") ? "users" : remote ? "gateway" : "embedded";
	return `${kind} ${root}`;
}

function main(): void {
	for (const dir of process.argv.slice(2)) {
		for (const file of readdirSync(dir).filter(f => f.endsWith(".cpuprofile"))) {
			const profile = JSON.parse(readFileSync(path.join(dir, file), "utf8")) as Profile;
			const totals = selfTimeByPackage(profile);
			totals.delete("(idle)");
			const busy = [...totals.values()].reduce((a, b) => a + b, 0);
			console.log(`${describe(profile)} (${file}): ${(busy / 1000).toFixed(0)} ms busy`);
			for (const [pkg, us] of [...totals].sort((a, b) => b[1] - a[1]).slice(0, 14)) {
				console.log(`  ${pkg.padEnd(28)} ${((100 * us) / busy).toFixed(1).padStart(5)} %`);
			}
		}
	}
}

if (require.main === module) main();
