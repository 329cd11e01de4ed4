/* eslint-disable no-console -- the process entry reports start-up failures before any logger exists */
import { hostname } from "node:os";
import path from "node:path";
import { ServiceBroker } from "moleculer";
import { ConfigError, getConfig } from "./config";
import { startHealthServer } from "./health";

/**
 * Starts one node: a broker with the services named by `SERVICES` (default:
 * all of them, the embedded mode). `--repl` opens the Moleculer REPL on it;
 * `--no-services` makes it a bare member of the cluster (what `npm run repl`
 * starts): no service, no server port (`AppConfig.bare`). The broker itself
 * handles SIGTERM/SIGINT with a graceful stop.
 */
async function main(argv: string[]): Promise<void> {
	const repl = argv.includes("--repl");

	let config;
	try {
		config = getConfig();
	} catch (err) {
		if (err instanceof ConfigError) {
			console.error(`Configuration error: ${err.message}`);
			process.exit(1);
		}
		throw err;
	}

	const { default: brokerConfig } = await import("../moleculer.config");
	const broker = new ServiceBroker({
		...brokerConfig,
		// A REPL node must not take the nodeID of the node it runs beside.
		nodeID: config.bare ? `repl-${hostname()}-${process.pid}` : brokerConfig.nodeID
	});

	for (const name of config.services) {
		broker.loadService(require.resolve(path.join(__dirname, "..", "services", `${name}.service`)));
	}

	try {
		// Undefined on a bare (REPL) node, whatever HEALTH_PORT says (src/config.ts).
		if (config.healthPort !== undefined) await startHealthServer(broker, config.healthPort);
		await broker.start();
	} catch (err) {
		broker.logger.fatal(`Node failed to start: ${(err as Error).message}`);
		await broker.stop().catch(() => undefined);
		process.exit(1);
	}
	if (repl) await broker.repl();
}

main(process.argv.slice(2)).catch(err => {
	console.error(err);
	process.exit(1);
});
