import { execFileSync } from "node:child_process";
import path from "node:path";

/**
 * Builds the PWA (`vite build` → dist/web) once before the browser tests; the
 * root global setup has already built the server side.
 */
export default function browserGlobalSetup(): void {
	const root = path.resolve(__dirname, "..", "..");
	execFileSync(
		process.execPath,
		[path.join(root, "node_modules", "vite", "bin", "vite.js"), "build", "-c", "web/vite.config.ts"],
		{
			cwd: root,
			// As `npm run build` does it, whatever NODE_ENV the test runner set.
			env: { ...process.env, NODE_ENV: "production" },
			stdio: "inherit"
		}
	);
}
