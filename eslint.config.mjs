import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
	{ ignores: ["dist/", "node_modules/", "coverage/", "public/", "web/dist/", "test-artifacts/", "bench/results/"] },
	js.configs.recommended,
	...tseslint.configs.recommended,
	{
		languageOptions: { globals: { ...globals.node } },
		rules: {
			"no-console": "error",
			"@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }]
		}
	},
	{
		files: ["test/**", "scripts/**", "bench/**", "*.config.js", "*.config.mjs"],
		rules: { "no-console": "off" }
	},
	{
		files: ["*.config.js"],
		languageOptions: { sourceType: "commonjs" },
		rules: { "@typescript-eslint/no-require-imports": "off" }
	}
);
