import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { ROOT } from "./node-process";

/**
 * Builds the PWA as `npm run build:web` does (`vite build` → dist/web, with its
 * brotli and gzip twins), whatever NODE_ENV the test runner set. vite's bin is
 * found through its package.json (its `exports` do not expose `bin/`).
 */
export function buildWeb(): void {
	const manifest = require.resolve("vite/package.json", { paths: [ROOT] });
	const { bin } = JSON.parse(readFileSync(manifest, "utf8")) as { bin: { vite: string } };
	execFileSync(process.execPath, [path.join(path.dirname(manifest), bin.vite), "build", "-c", "web/vite.config.ts"], {
		cwd: ROOT,
		env: { ...process.env, NODE_ENV: "production" },
		stdio: "inherit"
	});
}
