/** @type {import("jest").Config} */
const base = {
	preset: "ts-jest",
	// In-process gateways read their limits at import: keep them out of the way.
	setupFiles: ["<rootDir>/test/support/env.ts"],
	testEnvironment: "node",
	transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.json" }] }
};

/** @type {import("jest").Config} */
module.exports = {
	globalSetup: "<rootDir>/test/support/global-setup.ts",
	globalTeardown: "<rootDir>/test/support/global-teardown.ts",
	projects: [
		{ ...base, displayName: "unit", testMatch: ["<rootDir>/test/unit/**/*.test.ts"] },
		{
			...base,
			displayName: "integration",
			testMatch: ["<rootDir>/test/integration/**/*.test.ts"],
			setupFilesAfterEnv: ["<rootDir>/test/support/timeout-30s.ts"]
		},
		{
			...base,
			displayName: "cluster",
			testMatch: ["<rootDir>/test/cluster/**/*.test.ts"],
			setupFilesAfterEnv: ["<rootDir>/test/support/timeout-120s.ts"]
		},
		{
			...base,
			// Each node on its own host (network namespaces): root only; skipped with the reason elsewhere.
			displayName: "hosts",
			testMatch: ["<rootDir>/test/hosts/**/*.test.ts"],
			setupFilesAfterEnv: ["<rootDir>/test/support/timeout-120s.ts"]
		},
		{
			...base,
			displayName: "browser",
			testMatch: ["<rootDir>/test/browser/**/*.test.ts"],
			// Builds the PWA (vite) when this project runs; the root setup builds the server.
			globalSetup: "<rootDir>/test/browser/global-setup.ts"
		},
		{
			...base,
			displayName: "docker",
			// docker-compose.yml in a real Docker engine (started when none answers).
			testMatch: ["<rootDir>/test/docker/**/*.test.ts"],
			setupFilesAfterEnv: ["<rootDir>/test/docker/timeout.ts"]
		}
	]
};
