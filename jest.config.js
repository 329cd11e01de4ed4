/** @type {import("jest").Config} */
const base = {
	preset: "ts-jest",
	testEnvironment: "node",
	transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.json" }] }
};

/** @type {import("jest").Config} */
module.exports = {
	globalSetup: "<rootDir>/test/support/global-setup.ts",
	globalTeardown: "<rootDir>/test/support/global-teardown.ts",
	projects: [
		{ ...base, displayName: "unit", testMatch: ["<rootDir>/test/unit/**/*.test.ts"] },
		{ ...base, displayName: "integration", testMatch: ["<rootDir>/test/integration/**/*.test.ts"], testTimeout: 30000 },
		{ ...base, displayName: "cluster", testMatch: ["<rootDir>/test/cluster/**/*.test.ts"], testTimeout: 120000 },
		{
			...base,
			displayName: "browser",
			testMatch: ["<rootDir>/test/browser/**/*.test.ts"],
			// Builds the PWA (vite) when this project runs; the root setup builds the server.
			globalSetup: "<rootDir>/test/browser/global-setup.ts"
		}
	]
};
