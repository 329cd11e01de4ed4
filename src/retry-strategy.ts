import { Strategies, type Context } from "moleculer";

type Endpoint = Parameters<Strategies.RoundRobin["select"]>[0][number];

/**
 * Moleculer's RoundRobin, except that a retried call goes to another node
 * than the one that just failed it, when there is one.
 *
 * The Retry middleware re-sends a copy of the failed context, whose endpoint
 * is still the node it was sent to, through the same balancer. A node that
 * died without a goodbye (SIGKILL, lost host) stays listed until its
 * heartbeats time out (6–12 s here), and plain round robin, whose counter the
 * other requests move meanwhile, can send all three attempts of a read to it:
 * 5 s, 5 s, then 503 (seen once in test/cluster/node-kill.test.ts on a busy
 * machine). First attempts are balanced exactly as RoundRobin does.
 */
export class RetryAwareRoundRobinStrategy extends Strategies.RoundRobin {
	override select(list: Endpoint[], ctx?: Context): Endpoint {
		const retry = ctx as (Context & { _retryAttempts?: number }) | undefined;
		const failed = retry?._retryAttempts ? retry.endpoint?.id : undefined;
		const others = failed === undefined ? list : list.filter(endpoint => endpoint.id !== failed);
		return super.select(others.length > 0 ? others : list);
	}
}
