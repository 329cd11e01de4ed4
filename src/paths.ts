import { existsSync } from "node:fs";
import path from "node:path";

/** The folder holding package.json, from source (ts-jest) or from dist/. */
function findProjectRoot(start: string): string {
	let dir = start;
	while (!existsSync(path.join(dir, "package.json"))) {
		const parent = path.dirname(dir);
		if (parent === dir) return start;
		dir = parent;
	}
	return dir;
}

export const PROJECT_ROOT = findProjectRoot(__dirname);
/** The built PWA (`npm run build` → `vite build`), served by the `www` service. */
export const WEB_DIR = path.join(PROJECT_ROOT, "dist", "web");
