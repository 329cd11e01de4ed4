import path from "node:path";
import { constants as zlibConstants } from "node:zlib";
import { defineConfig } from "vite";
import { compression, defineAlgorithm } from "vite-plugin-compression2";
import { pwa } from "./build/pwa-plugin.ts";

const webDir = import.meta.dirname;
const projectRoot = path.resolve(webDir, "..");

/**
 * The PWA build: `web/` → `dist/web/`, served by the `www` service. One build
 * for every environment: the gateway's URL comes from `/config.json` at run time.
 */
export default defineConfig(({ command }) => ({
	root: webDir,
	base: "/",
	publicDir: false,
	logLevel: "warn",
	build: {
		outDir: path.join(projectRoot, "dist", "web"),
		emptyOutDir: true,
		target: "es2022",
		assetsInlineLimit: 0,
		reportCompressedSize: false
	},
	server: {
		port: 5173,
		strictPort: true,
		// The app imports the services' shared types from outside web/.
		fs: { allow: [projectRoot] }
	},
	define: {
		// Not import.meta.env.PROD: that follows NODE_ENV, which test runners set to "test".
		__REGISTER_SW__: JSON.stringify(command === "build")
	},
	plugins: [
		pwa({
			swEntry: path.join(webDir, "sw", "sw.ts"),
			devApiUrl: () => process.env.API_URL ?? "http://localhost:3001"
		}),
		// Brotli and gzip twins of every text file, made once here at their best
		// levels: www picks one by Accept-Encoding and never compresses per request.
		compression({
			include: /\.(?:js|css|html|svg|webmanifest|json)$/,
			threshold: 0,
			algorithms: [
				defineAlgorithm("brotliCompress", { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 11 } }),
				defineAlgorithm("gzip", { level: 9 })
			]
		})
	]
}));
