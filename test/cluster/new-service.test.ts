import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { stripVTControlCharacters } from "node:util";
import { parse } from "yaml";
import { http, ROOT, uniqueNamespace } from "../support/node-process";
import { freePort, waitFor } from "../support/redis-server";

/**
 * `npm run new:service`, end to end: in a temporary copy of the repository
 * (the tracked files, node_modules linked), the generator refuses bad names
 * without touching anything, then adds a service; the copy builds; a gateway,
 * a users node and a node of the new kind start over Redis; the new route
 * answers through the gateway and from the REPL.
 */

jest.setTimeout(240_000);

const GENERATOR = path.join(ROOT, "dist", "scripts", "new-service.js");
const NAME = "inventory";

/** Every file of the copy (node_modules aside) and a hash of its content. */
function snapshot(dir: string): Map<string, string> {
	const files = new Map<string, string>();
	const walk = (rel: string) => {
		for (const entry of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
			const child = path.join(rel, entry.name);
			if (entry.name === "node_modules") continue;
			if (entry.isDirectory()) walk(child);
			else
				files.set(
					child,
					createHash("sha256")
						.update(readFileSync(path.join(dir, child)))
						.digest("hex")
				);
		}
	};
	walk("");
	return files;
}

function generate(copy: string, ...args: string[]) {
	return spawnSync(process.execPath, [GENERATOR, ...args], { cwd: copy, encoding: "utf8" });
}

interface Proc {
	child: ChildProcess;
	output(): string;
	stop(): Promise<void>;
}

function run(copy: string, args: string[], env: Record<string, string>): Proc {
	const child = spawn(process.execPath, [path.join(copy, "dist", "src", "main.js"), ...args], {
		cwd: copy,
		env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_FORMAT: "json", ...env },
		stdio: ["pipe", "pipe", "pipe"]
	});
	let out = "";
	child.stdout.on("data", chunk => (out += chunk));
	child.stderr.on("data", chunk => (out += chunk));
	const exited = new Promise<void>(resolve => child.once("exit", () => resolve()));
	return {
		child,
		output: () => out,
		async stop() {
			if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
			await exited;
		}
	};
}

describe("npm run new:service", () => {
	let copy: string;
	const procs: Proc[] = [];

	beforeAll(() => {
		copy = mkdtempSync(path.join(tmpdir(), "rncp-new-service-"));
		const tracked = execFileSync("git", ["ls-files", "-z"], { cwd: ROOT, encoding: "utf8" })
			.split("\0")
			.filter(Boolean);
		for (const file of tracked) {
			mkdirSync(path.join(copy, path.dirname(file)), { recursive: true });
			cpSync(path.join(ROOT, file), path.join(copy, file));
		}
		symlinkSync(path.join(ROOT, "node_modules"), path.join(copy, "node_modules"), "dir");
	});

	afterAll(async () => {
		await Promise.all(procs.map(p => p.stop()));
		rmSync(copy, { recursive: true, force: true });
	});

	it.each([
		["Inventory", /not a valid service name/],
		["9lives", /not a valid service name/],
		["order--items", /not a valid service name/],
		["order_items", /not a valid service name/],
		["a".repeat(31), /not a valid service name/],
		["api", /reserved/],
		["users", /reserved/],
		["www", /reserved/],
		["health", /reserved/],
		["redis", /reserved/]
	])("refuses %j and changes nothing", (name, reason) => {
		const before = snapshot(copy);
		const res = generate(copy, name);
		expect(res.status).toBe(1);
		expect(res.stderr).toMatch(/refused, nothing written/);
		expect(res.stderr).toMatch(reason);
		expect(snapshot(copy)).toEqual(before);
	});

	it("refuses a name a compose service already has, and changes nothing", () => {
		const before = snapshot(copy);
		const res = generate(copy, "grafana");
		expect([res.status, res.stderr]).toEqual([
			1,
			expect.stringMatching(/docker-compose.yml has a service "grafana"/)
		]);
		expect(snapshot(copy)).toEqual(before);
	});

	it("writes the service, its unit test, its compose service, its Deployment and its place in SERVICES", () => {
		const before = snapshot(copy);
		const res = generate(copy, "--", NAME);
		expect(res.stderr).toBe("");
		expect(res.status).toBe(0);
		const after = snapshot(copy);
		const changed = [...after.keys()].filter(f => before.get(f) !== after.get(f)).sort();
		const expected = [
			`services/${NAME}.service.ts`,
			`test/unit/${NAME}.service.test.ts`,
			"docker-compose.yml",
			"src/config.ts",
			`deploy/k8s/${NAME}.yaml`,
			"deploy/k8s/redis.yaml"
		].sort();
		expect(changed).toEqual(expected);
		console.log(res.stdout); // the generator's report, for the README and the issue

		const compose = parse(readFileSync(path.join(copy, "docker-compose.yml"), "utf8"), { merge: true }) as {
			services: Record<string, { environment: Record<string, string>; ports?: unknown; healthcheck?: object }>;
		};
		const svc = compose.services[`rncp-${NAME}`];
		expect(svc.environment.SERVICES).toBe(NAME);
		expect(svc.environment.REDIS_URL).toBe("redis://redis:6379");
		expect(svc.ports).toBeUndefined();
		expect(svc.healthcheck).toMatchObject({ test: ["CMD", "node", "dist/scripts/healthcheck.js"] });
		expect(readFileSync(path.join(copy, "src", "config.ts"), "utf8")).toMatch(
			new RegExp(`ALL_SERVICES = \\[[^\\]]*"${NAME}"\\] as const`)
		);

		// Twice: the second run finds the service and writes nothing.
		const again = generate(copy, NAME);
		expect([again.status, again.stderr]).toEqual([1, expect.stringMatching(/exists/)]);
		expect(snapshot(copy)).toEqual(after);
	});

	it("builds, and its unit test and the compose, config and Kubernetes checks pass", () => {
		execFileSync(
			process.execPath,
			[path.join(copy, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"],
			{
				cwd: copy,
				stdio: "inherit"
			}
		);
		const jest = spawnSync(
			process.execPath,
			[
				path.join(copy, "node_modules", "jest", "bin", "jest.js"),
				`test/unit/${NAME}.service.test.ts`,
				"test/unit/compose.test.ts",
				"test/unit/config.test.ts",
				// The Deployment validates and the new kind may reach Redis (its NetworkPolicy).
				"test/unit/k8s.test.ts",
				// Last: it takes every following word as a project name.
				"--selectProjects",
				"unit"
			],
			{ cwd: copy, encoding: "utf8", env: { ...process.env, REDIS_URL: process.env.TEST_REDIS_URL } }
		);
		expect([jest.status, jest.stderr]).toEqual([0, expect.stringMatching(/Test Suites: 4 passed, 4 total/)]);
	});

	it("serves its route through a gateway and answers the REPL, over Redis", async () => {
		const namespace = uniqueNamespace("newsvc");
		const env = { REDIS_URL: process.env.TEST_REDIS_URL as string, NAMESPACE: namespace, LOGLEVEL: "warn" };
		const port = await freePort();
		const url = `http://127.0.0.1:${port}`;
		const nodeID = `${namespace}-${NAME}`;
		procs.push(run(copy, [], { ...env, SERVICES: "users", NODEID: `${namespace}-users` }));
		procs.push(run(copy, [], { ...env, SERVICES: NAME, NODEID: nodeID }));
		const gateway = run(copy, [], { ...env, SERVICES: "api", NODEID: `${namespace}-gw`, PORT: String(port) });
		procs.push(gateway);

		const hello = await waitFor(
			async () => {
				const res = await http(`${url}/${NAME}/hello?name=Ada`);
				return res.status === 200 ? res : false;
			},
			{ timeoutMs: 30_000, intervalMs: 250, what: `GET /${NAME}/hello through the gateway` }
		).catch((err: Error) => {
			throw new Error(`${err.message}\n--- gateway\n${gateway.output().slice(-3000)}`);
		});
		expect(hello.headers.get("content-type")).toMatch(/^application\/json/);
		expect(hello.body).toEqual({ message: "Hello, Ada", service: NAME, nodeID });
		const health = await http(`${url}/${NAME}/health`);
		expect([health.status, health.body]).toEqual([200, { status: "ok", service: NAME, nodeID }]);
		const bad = await http<{ code: number; type: string }>(`${url}/${NAME}/hello?nom=Ada`);
		expect([bad.status, bad.body.type]).toEqual([422, "VALIDATION_ERROR"]);

		// The gateway documents the new route with the answer's shape the new node declared.
		const doc = await http<{
			paths: Record<string, { get?: { tags: string[]; responses: Record<string, unknown> } }>;
			components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
		}>(`${url}/openapi.json`);
		const hello200 = doc.body.paths[`/${NAME}/hello`]?.get?.responses["200"];
		expect(hello200).toMatchObject({ content: { "application/json": { schema: { $ref: expect.any(String) } } } });
		const helloRef = (hello200 as { content: Record<string, { schema: { $ref: string } }> }).content[
			"application/json"
		].schema.$ref;
		expect(doc.body.paths[`/${NAME}/hello`]?.get?.tags).toEqual([NAME]);
		expect(doc.body.components.schemas[helloRef.split("/").pop() as string]?.properties).toEqual({
			message: { type: "string" },
			service: { const: NAME },
			nodeID: { type: "string" }
		});

		// The REPL: a bare node joins the same cluster and calls the action.
		const repl = run(copy, ["--repl", "--no-services"], env);
		procs.push(repl);
		repl.child.stdin?.write(`call ${NAME}.hello --name Repl\n`);
		await waitFor(() => /Response:[\s\S]*Hello, Repl/.test(repl.output()), {
			timeoutMs: 20_000,
			what: "the REPL's answer"
		}).catch((err: Error) => {
			throw new Error(`${err.message}\n--- repl\n${repl.output().slice(-3000)}`);
		});
		expect(stripVTControlCharacters(repl.output())).toContain(`nodeID: '${nodeID}'`);
		repl.child.stdin?.end("exit\n");
	});
});
