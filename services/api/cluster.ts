import type { Context, ServiceBroker } from "moleculer";

/** One node of the namespace, as the admin dashboard draws it. */
export interface ClusterNode {
	id: string;
	hostname: string | null;
	/** Whether this is the gateway node that answered. */
	local: boolean;
	/** Sending heartbeats (an unavailable node is kept until Moleculer forgets it). */
	available: boolean;
	/** Services it runs, internal `$node` left out. */
	services: string[];
	/** Host CPU utilisation in percent, as the node reports it in its heartbeats. */
	cpu: number | null;
	/** From the node's `$node.health`; null when it did not answer in time. */
	memory: {
		/** Resident set size of the node's process, bytes. */
		rss: number;
		heapUsed: number;
		/** Used share of the host's memory, percent. */
		hostUsedPercent: number;
	} | null;
	/** Process uptime, seconds. */
	uptime: number | null;
	/** Moleculer and Node.js versions. */
	client: { version: string | null; langVersion: string | null };
	/** Requests to the `users` service this node served, counted by the gateways. */
	requests: number;
}

/** The answer of `GET /cluster`. */
export interface ClusterView {
	/** The gateway that answered. */
	nodeID: string;
	time: string;
	nodes: ClusterNode[];
	/** `users` requests per serving node, summed over every gateway that answered. */
	requests: { total: number; byNode: Record<string, number>; gateways: number };
}

/** Per-gateway, in-memory count of the `users` requests each node served. */
export class RequestCounter {
	private readonly counts = new Map<string, number>();

	add(nodeID: string): void {
		this.counts.set(nodeID, (this.counts.get(nodeID) ?? 0) + 1);
	}

	snapshot(): Record<string, number> {
		return Object.fromEntries(this.counts);
	}
}

interface HealthReply {
	cpu: { utilization: number | null };
	mem: { free: number; total: number };
	process: { memory: { rss: number; heapUsed: number }; uptime: number };
}

/** Waiting longer would make the dashboard lag behind a slow node; it shows "no data" instead. */
const PER_NODE_TIMEOUT_MS = 1500;

interface RegistryNode {
	id: string;
	hostname: string | null;
	local: boolean;
	available: boolean;
	cpu: number | null;
	client: { version?: string; langVersion?: string } | null;
	services?: { name: string }[];
}

/**
 * Sums the request counts of every available gateway (`api.requestCounts` on
 * each node), so the spread is the cluster's, not only this gateway's.
 */
async function gatherRequestCounts(ctx: Context, broker: ServiceBroker): Promise<ClusterView["requests"]> {
	const gateways = broker.registry
		.getServiceList({ onlyAvailable: true, skipInternal: true })
		.filter(s => s.name === "api")
		.map(s => s.nodeID as string);
	const replies = await Promise.all(
		gateways.map(nodeID =>
			ctx
				.call<Record<string, number>, object>("api.requestCounts", {}, { nodeID, timeout: PER_NODE_TIMEOUT_MS })
				.catch(() => null)
		)
	);
	const byNode: Record<string, number> = {};
	let total = 0;
	let answered = 0;
	for (const counts of replies) {
		if (!counts) continue;
		answered++;
		for (const [nodeID, n] of Object.entries(counts)) {
			byNode[nodeID] = (byNode[nodeID] ?? 0) + n;
			total += n;
		}
	}
	return { total, byNode, gateways: answered };
}

/** Every node of the namespace with its services, load and served `users` requests. */
export async function describeCluster(ctx: Context, broker: ServiceBroker): Promise<ClusterView> {
	const registryNodes = broker.registry.getNodeList({
		onlyAvailable: false,
		withServices: true
	}) as unknown as RegistryNode[];
	const [requests, healths] = await Promise.all([
		gatherRequestCounts(ctx, broker),
		Promise.all(
			registryNodes.map(node =>
				node.available
					? ctx
							.call<HealthReply, object>(
								"$node.health",
								{},
								{ nodeID: node.id, timeout: PER_NODE_TIMEOUT_MS }
							)
							.catch(() => null)
					: Promise.resolve(null)
			)
		)
	]);

	const nodes = registryNodes.map((node, i): ClusterNode => {
		const health = healths[i];
		return {
			id: node.id,
			hostname: node.hostname ?? null,
			local: node.local,
			available: node.available,
			services: (node.services ?? [])
				.map(s => s.name)
				.filter(name => !name.startsWith("$"))
				.sort(),
			// Without a transporter no heartbeat measures the CPU: the load average stands in.
			cpu: node.cpu ?? health?.cpu.utilization ?? null,
			memory: health
				? {
						rss: health.process.memory.rss,
						heapUsed: health.process.memory.heapUsed,
						hostUsedPercent:
							Math.round(((health.mem.total - health.mem.free) * 1000) / health.mem.total) / 10
					}
				: null,
			uptime: health ? Math.round(health.process.uptime) : null,
			client: { version: node.client?.version ?? null, langVersion: node.client?.langVersion ?? null },
			requests: requests.byNode[node.id] ?? 0
		};
	});
	nodes.sort((a, b) => a.id.localeCompare(b.id));

	return { nodeID: broker.nodeID, time: new Date().toISOString(), nodes, requests };
}
