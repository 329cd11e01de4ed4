import { execFileSync } from "node:child_process";
import path from "node:path";
import { startRedisServer, type RedisServer } from "./redis-server";

declare global {
	var __RNCP_REDIS__: RedisServer | undefined;
}

/**
 * Builds `dist/` (the cluster tests start real nodes from it, as `npm start`
 * does) and starts a private Redis for the whole run unless `REDIS_URL` is
 * given. Test files read the URL from `TEST_REDIS_URL`.
 */
export default async function globalSetup(): Promise<void> {
	const root = path.resolve(__dirname, "..", "..");
	execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", "tsconfig.build.json"], {
		cwd: root,
		stdio: "inherit"
	});
	if (process.env.REDIS_URL) {
		process.env.TEST_REDIS_URL = process.env.REDIS_URL;
	} else {
		globalThis.__RNCP_REDIS__ = await startRedisServer();
		process.env.TEST_REDIS_URL = globalThis.__RNCP_REDIS__.url;
	}
	// Tests decide per broker / per process whether Redis is used.
	delete process.env.REDIS_URL;
	delete process.env.TRANSPORTER;
}
