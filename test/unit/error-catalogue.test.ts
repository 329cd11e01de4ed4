import { readFileSync } from "node:fs";
import path from "node:path";
import { Errors } from "moleculer";
import { GATEWAY_ERRORS, gatewayError, toErrorBody, type GatewayErrorType } from "../../services/api/errors";
import * as UsersErrors from "../../services/users/errors";
import { USERS_ERRORS } from "../../services/users/errors";

const readme = readFileSync(path.join(__dirname, "..", "..", "README.md"), "utf8");
const section = readme.slice(readme.indexOf("## Errors"), readme.indexOf("\n## ", readme.indexOf("## Errors") + 1));

/** Rows of the README's error table: `| TYPE | status | meaning |`. */
const readmeRows = [...section.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \|/gm)].map(m => [m[1], Number(m[2])] as const);

describe("error catalogues and the README's error table", () => {
	const catalogue = [
		...Object.entries(GATEWAY_ERRORS).map(([type, e]) => [type, e.status] as const),
		...Object.entries(USERS_ERRORS).map(([type, e]) => [type, e.status] as const)
	];

	it("lists every type of both catalogues with its status, and nothing else", () => {
		const sort = (rows: (readonly [string, number])[]) => [...rows].sort((a, b) => a[0].localeCompare(b[0]));
		expect(readmeRows.length).toBeGreaterThan(0);
		expect(sort(readmeRows)).toEqual(sort(catalogue));
	});

	it("gives each type one side: no type is in both catalogues", () => {
		expect(Object.keys(GATEWAY_ERRORS).filter(type => type in USERS_ERRORS)).toEqual([]);
	});

	const classes = Object.entries(UsersErrors).filter(([name]) => name.endsWith("Error"));
	it.each(classes)("makes %s from its entry", (name, ErrorClass) => {
		const err = new (ErrorClass as new (arg: string) => Errors.MoleculerError)("x");
		const entry = USERS_ERRORS[err.type as keyof typeof USERS_ERRORS];
		expect({ name: err.name, code: err.code, client: err instanceof Errors.MoleculerClientError }).toEqual({
			name,
			code: entry.status,
			client: entry.status < 500
		});
		expect(err).toBeInstanceOf(ErrorClass as new () => Error);
	});

	it.each(Object.keys(GATEWAY_ERRORS) as GatewayErrorType[])("answers %s with its entry", type => {
		const { status, name, message } = GATEWAY_ERRORS[type];
		const body = toErrorBody(gatewayError(type), { production: true });
		expect(body).toMatchObject({ name, message, code: status, type });
	});
});
