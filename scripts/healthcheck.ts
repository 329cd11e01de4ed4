import { loadConfig } from "../src/config";
import { HEALTH_PATHS } from "../src/health";

/**
 * The container healthcheck of every node (Dockerfile HEALTHCHECK and
 * docker-compose): exit 0 when the node's health port answers `GET /ready`
 * with 200, 1 otherwise, printing the checks that failed.
 *
 * Readiness, not liveness: Docker never restarts an unhealthy container
 * (`restart:` acts on exits only); compose uses the health status to order
 * starts (`depends_on: service_healthy`), which must mean "does its job".
 * Kubernetes probes `/live` and `/ready` separately (deploy/k8s/).
 */

const TIMEOUT_MS = 4000;

async function check(): Promise<void> {
	const { healthPort } = loadConfig();
	if (healthPort === undefined) throw new Error("HEALTH_PORT is not set: this node has no health port");
	const res = await fetch(`http://127.0.0.1:${healthPort}${HEALTH_PATHS.ready}`, {
		signal: AbortSignal.timeout(TIMEOUT_MS)
	});
	const body = (await res.json().catch(() => ({}))) as { failed?: string[] };
	if (!res.ok)
		throw new Error(
			`${HEALTH_PATHS.ready} answered ${res.status}; failed: ${body.failed?.join(", ") || "unknown"}`
		);
}

check()
	.then(() => process.exit(0))
	.catch((err: unknown) => {
		console.error(`unhealthy: ${(err as Error).message}`);
		process.exit(1);
	});
