import { readFileSync } from "node:fs";
import path from "node:path";
import * as UsersErrors from "../../services/users/errors";

const readme = readFileSync(path.join(__dirname, "..", "..", "README.md"), "utf8");

/** Rows of the README's error table: `| TYPE | status | meaning |`. */
const catalogue = new Map(
	[...readme.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \|/gm)].map(m => [m[1], Number(m[2])] as const)
);

describe("error catalogue (README)", () => {
	const classes = Object.entries(UsersErrors).filter(([, value]) => typeof value === "function");

	it.each(classes)("lists %s with its type and status", (_name, ErrorClass) => {
		const err = new (ErrorClass as new (arg: string) => { type: string; code: number })("x");
		expect(catalogue.get(err.type)).toBe(err.code);
	});
});
