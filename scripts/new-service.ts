import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments, parseDocument } from "yaml";

/**
 * `npm run new:service -- <name>`: adds a Moleculer service and the node kind
 * that runs it. Writes `services/<name>.service.ts` (typed settings and params,
 * a `hello` action with its REST route declared on it, a `health` action), its
 * unit test, its docker-compose service (`SERVICES=<name>`, healthcheck, no
 * host port), its Kubernetes Deployment when `deploy/k8s/` exists, and adds
 * the name to the services a node may run (`src/config.ts`). Everything is
 * checked and prepared first; when anything is wrong, nothing is written.
 */

/** Lowercase letters, then letters and digits, optionally kebab-joined: `orders`, `order-history`. */
export const NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
const MAX_LENGTH = 30;

/**
 * Names a new service may not take: the seed's services, the gateway's own
 * paths (a service's routes live under `/<name>`), Moleculer's internal
 * `$node`, the folders of the repository, and the other compose services.
 */
const RESERVED = new Set([
	"api",
	"users",
	"www",
	"auth",
	"health",
	"cluster",
	"openapi",
	"node",
	"internal",
	"services",
	"service",
	"src",
	"dist",
	"test",
	"web",
	"assets",
	"config",
	"deploy",
	"docs",
	"scripts",
	"bench",
	"types",
	"redis",
	"nats"
]);

export class RefusedError extends Error {}

export interface PlannedFile {
	path: string;
	content: string;
	/** An existing file it replaces (an edit), or a new one. */
	edit: boolean;
	/** Why this file is not written (nothing to model it on); the rest is. */
	skipped?: string;
}

function pascal(name: string): string {
	return name
		.split("-")
		.map(part => part[0].toUpperCase() + part.slice(1))
		.join("");
}

function camel(name: string): string {
	const p = pascal(name);
	return p[0].toLowerCase() + p.slice(1);
}

/** Whether the gateway reads `http` declarations on actions (routes built from the registry). */
function hasActionHttp(root: string): boolean {
	const file = path.join(root, "types", "moleculer.d.ts");
	return existsSync(file) && /interface ActionHttp\b/.test(readFileSync(file, "utf8"));
}

function serviceSource(name: string, withHttp: boolean): string {
	const P = pascal(name);
	const http = (route: string, summary: string, schema: string) =>
		withHttp
			? `
			http: {
				route: "${route}",
				summary: "${summary}",
				tag: "${name}",
				schema: "${P}${schema}"
			},`
			: "";
	const metadata = withHttp
		? `
	// The shapes of its answers, for the gateway's OpenAPI document (it reads them from the registry).
	metadata: {
		openapi: {
			tags: [{ name: "${name}", description: "The ${name} service" }],
			schemas: {
				${P}Hello: {
					type: "object",
					required: ["message", "service", "nodeID"],
					properties: {
						message: { type: "string" },
						service: { const: "${name}" },
						nodeID: { type: "string" }
					}
				},
				${P}Health: {
					type: "object",
					required: ["status", "service", "nodeID"],
					properties: {
						status: { const: "ok" },
						service: { const: "${name}" },
						nodeID: { type: "string" }
					}
				}
			}
		} satisfies ServiceOpenApi
	},
`
		: "";
	return `import type { Context, ${withHttp ? "ServiceOpenApi, " : ""}ServiceSchema } from "moleculer";

export interface ${P}Settings {
	/** Base path of this service's routes on the gateway. */
	rest: string;
	/** First word of \`hello\`'s answer. */
	greeting: string;
}

export interface ${P}HelloParams {
	name?: string;
}

export interface ${P}Hello {
	message: string;
	service: "${name}";
	nodeID: string;
}

export interface ${P}Health {
	status: "ok";
	service: "${name}";
	nodeID: string;
}

const ${P}Service: ServiceSchema<${P}Settings> = {
	name: "${name}",

	settings: {
		rest: "/${name}",
		greeting: "Hello"
	},
${metadata}
	actions: {
		/** Greets \`name\` (default "world") from the node that answered; 422 for unknown params. */
		hello: {
			rest: "GET /hello",${http("public", `Example greeting of the ${name} service`, "Hello")}
			params: {
				$$strict: true,
				name: { type: "string", trim: true, min: 1, max: 100, optional: true }
			},
			handler(ctx: Context<${P}HelloParams>): ${P}Hello {
				return {
					message: \`\${this.settings.greeting}, \${ctx.params.name ?? "world"}\`,
					service: "${name}",
					nodeID: this.broker.nodeID
				};
			}
		},

		/** 200 while this node runs. */
		health: {
			rest: "GET /health",${http("open", `Health of one ${name} node`, "Health")}
			params: { $$strict: true },
			handler(): ${P}Health {
				return { status: "ok", service: "${name}", nodeID: this.broker.nodeID };
			}
		}
	}
};

export default ${P}Service;
`;
}

function unitTestSource(name: string): string {
	const P = pascal(name);
	const c = camel(name);
	return `import { Errors, ServiceBroker } from "moleculer";
import ${P}Service, { type ${P}Health, type ${P}Hello } from "../../services/${name}.service";

describe("${name} service (in-process)", () => {
	const broker = new ServiceBroker({ logger: false });
	broker.createService(${P}Service);

	beforeAll(() => broker.start());
	afterAll(() => broker.stop());

	describe("${name}.hello", () => {
		it("greets the caller by name from this node", async () => {
			const ${c} = await broker.call<${P}Hello, { name: string }>("${name}.hello", { name: " Ada " });
			expect(${c}).toEqual({ message: "Hello, Ada", service: "${name}", nodeID: broker.nodeID });
		});

		it("greets the world without a name", async () => {
			expect(await broker.call<${P}Hello>("${name}.hello")).toMatchObject({ message: "Hello, world" });
		});

		it("answers 422 for an unknown param", async () => {
			const err = await broker.call("${name}.hello", { nom: "Ada" }).catch((e: unknown) => e);
			expect(err).toBeInstanceOf(Errors.ValidationError);
			expect((err as Errors.ValidationError).code).toBe(422);
		});
	});

	describe("${name}.health", () => {
		it("answers ok with the node", async () => {
			expect(await broker.call<${P}Health>("${name}.health")).toEqual({
				status: "ok",
				service: "${name}",
				nodeID: broker.nodeID
			});
		});
	});
});
`;
}

function composeEntry(name: string): string {
	return `    rncp-${name}:
        <<: *node
        environment:
            <<: *node-env
            SERVICES: ${name}
            SERVICE_NAME: ${name}
        # Called over the transporter only (its routes through the gateway): no host port.
        depends_on:
            redis:
                condition: service_healthy

`;
}

/** Inserts the entry before the monitoring profile (or the volumes), keeping the file's comments. */
function composeWithService(source: string, name: string): string {
	const marker = /^ {4}# --- monitoring profile/m.exec(source) ?? /^volumes:/m.exec(source);
	if (!marker) throw new RefusedError("docker-compose.yml: no place found for a new service");
	if (!/^x-node: &node$/m.test(source) || !/^x-node-env: &node-env$/m.test(source)) {
		throw new RefusedError("docker-compose.yml: the x-node and x-node-env anchors are missing");
	}
	const text = source.slice(0, marker.index) + composeEntry(name) + source.slice(marker.index);
	const doc = parseDocument(text, { merge: true });
	if (doc.errors.length) throw new RefusedError(`docker-compose.yml would not parse: ${doc.errors[0].message}`);
	const services = (doc.toJS() as { services: Record<string, { environment?: Record<string, string> }> }).services;
	if (services[`rncp-${name}`]?.environment?.SERVICES !== name) {
		throw new RefusedError("docker-compose.yml: the new service did not land under services:");
	}
	return text;
}

type Yaml = unknown;

/** Every string in `value` with `from` replaced by `to`. */
function replaceStrings(value: Yaml, from: string, to: string): Yaml {
	if (typeof value === "string") return value.split(from).join(to);
	if (Array.isArray(value)) return value.map(v => replaceStrings(v, from, to));
	if (value && typeof value === "object") {
		return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, replaceStrings(v, from, to)]));
	}
	return value;
}

interface Deployment {
	kind?: string;
	metadata?: { name?: string };
	spec?: {
		replicas?: number;
		template?: { spec?: { containers?: { env?: { name: string; value?: string }[] }[] } };
	};
}

/**
 * The Deployment of the new node kind, modelled on the users one in
 * `deploy/k8s/` (same image, probes, resources, configuration), its names
 * and `SERVICES` changed. Undefined when there is no `deploy/k8s/`; marked
 * `skipped` when nothing there can be its model.
 */
function k8sDeployment(root: string, name: string): PlannedFile | undefined {
	const dir = path.join(root, "deploy", "k8s");
	if (!existsSync(dir)) return undefined;
	for (const file of readdirSync(dir).filter(f => /\.ya?ml$/.test(f))) {
		for (const doc of parseAllDocuments(readFileSync(path.join(dir, file), "utf8"))) {
			const value = doc.toJS() as Deployment | null;
			const containers = value?.spec?.template?.spec?.containers ?? [];
			const runsUsers = containers.some(c => c.env?.some(e => e.name === "SERVICES" && e.value === "users"));
			if (value?.kind !== "Deployment" || !runsUsers || !value.metadata?.name) continue;
			const oldName = value.metadata.name;
			const newName = oldName.includes("users")
				? oldName.replace("users", name)
				: oldName.includes("user")
					? oldName.replace(/user(-service)?/, name)
					: `rncp-${name}`;
			const copy = replaceStrings(value, oldName, newName) as Deployment;
			if (copy.spec) copy.spec.replicas = 1;
			for (const c of copy.spec?.template?.spec?.containers ?? []) {
				for (const e of c.env ?? []) if (e.name === "SERVICES") e.value = name;
			}
			const out = path.join("deploy", "k8s", `${name}.yaml`);
			if (existsSync(path.join(root, out))) throw new RefusedError(`${out} exists`);
			const header = `# The ${name} node kind (npm run new:service), modelled on ${file}.\n`;
			return { path: out, content: header + parseDocument(JSON.stringify(copy)).toString(), edit: false };
		}
	}
	return {
		path: "",
		content: "",
		edit: false,
		skipped: "deploy/k8s/ has no Deployment running SERVICES=users to model on"
	};
}

/**
 * `deploy/k8s/redis.yaml` with `name` among the node kinds its NetworkPolicy
 * lets reach Redis (every node kind talks to the transporter). Undefined when
 * there is no such policy line to extend.
 */
function k8sRedisAccess(root: string, name: string): PlannedFile | undefined {
	const file = path.join("deploy", "k8s", "redis.yaml");
	if (!existsSync(path.join(root, file))) return undefined;
	const source = readFileSync(path.join(root, file), "utf8");
	const m = /(\{ key: app\.kubernetes\.io\/component, operator: In, values: \[)([^\]]*)(\] \})/.exec(source);
	if (!m) return undefined;
	const kinds = m[2].split(",").map(k => k.trim());
	if (kinds.includes(name)) return undefined;
	const line = m[1] + [...kinds, name].join(", ") + m[3];
	return {
		path: file,
		content: source.slice(0, m.index) + line + source.slice(m.index + m[0].length),
		edit: true
	};
}

/** The services a node may run, with `name` added (src/config.ts `ALL_SERVICES`). */
function configWithService(source: string, name: string): string {
	const m = /^export const ALL_SERVICES = \[([^\]]*)\] as const;$/m.exec(source);
	if (!m) throw new RefusedError("src/config.ts: ALL_SERVICES not found");
	const names = [...m[1].matchAll(/"([^"]+)"/g)].map(x => x[1]);
	if (names.includes(name)) throw new RefusedError(`"${name}" is already in ALL_SERVICES (src/config.ts)`);
	const line = `export const ALL_SERVICES = [${[...names, name].map(n => `"${n}"`).join(", ")}] as const;`;
	return source.slice(0, m.index) + line + source.slice(m.index + m[0].length);
}

/** Checks `name` against the repository at `root` and returns every file to write, or throws RefusedError. */
export function plan(root: string, name: string): PlannedFile[] {
	if (!NAME.test(name) || name.length > MAX_LENGTH) {
		throw new RefusedError(
			`"${name}" is not a valid service name: lowercase letters and digits, starting with a letter, ` +
				`words joined by single dashes (orders, order-history), at most ${MAX_LENGTH} characters`
		);
	}
	if (RESERVED.has(name)) throw new RefusedError(`"${name}" is reserved`);

	const servicesDir = path.join(root, "services");
	const existing = readdirSync(servicesDir)
		.filter(f => f.endsWith(".service.ts"))
		.map(f => f.slice(0, -".service.ts".length));
	if (existing.includes(name) || existsSync(path.join(servicesDir, name))) {
		throw new RefusedError(`a service named "${name}" exists (services/)`);
	}
	const compose = readFileSync(path.join(root, "docker-compose.yml"), "utf8");
	const composeServices = Object.keys(
		(parseDocument(compose, { merge: true }).toJS() as { services?: object }).services ?? {}
	);
	for (const taken of [name, `rncp-${name}`]) {
		if (composeServices.includes(taken)) throw new RefusedError(`docker-compose.yml has a service "${taken}"`);
	}

	const files: PlannedFile[] = [
		{ path: `services/${name}.service.ts`, content: serviceSource(name, hasActionHttp(root)), edit: false },
		{ path: `test/unit/${name}.service.test.ts`, content: unitTestSource(name), edit: false },
		{ path: "docker-compose.yml", content: composeWithService(compose, name), edit: true },
		{
			path: "src/config.ts",
			content: configWithService(readFileSync(path.join(root, "src", "config.ts"), "utf8"), name),
			edit: true
		}
	];
	const deployment = k8sDeployment(root, name);
	if (deployment) files.push(deployment);
	const redisAccess = deployment && !deployment.skipped ? k8sRedisAccess(root, name) : undefined;
	if (redisAccess) files.push(redisAccess);
	for (const f of files) {
		if (!f.edit && !f.skipped && existsSync(path.join(root, f.path))) throw new RefusedError(`${f.path} exists`);
	}
	return files;
}

function main(argv: string[]): number {
	const args = argv.filter(a => a !== "--");
	if (args.length !== 1) {
		console.error("usage: npm run new:service -- <name>");
		return 2;
	}
	const [name] = args;
	const root = process.cwd();
	let files: PlannedFile[];
	try {
		files = plan(root, name);
	} catch (err) {
		if (err instanceof RefusedError) {
			console.error(`new:service refused, nothing written: ${err.message}`);
			return 1;
		}
		throw err;
	}
	const written = files.filter(f => !f.skipped);
	for (const f of written) writeFileSync(path.join(root, f.path), f.content, { flag: f.edit ? "w" : "wx" });
	console.log(`new:service ${name}:`);
	for (const f of written) console.log(`  ${f.edit ? "changed" : "wrote  "} ${f.path}`);
	for (const f of files) if (f.skipped) console.error(`new:service: no Kubernetes Deployment written: ${f.skipped}`);
	console.log(`
Next:
  npm run build && npx jest test/unit/${name}.service.test.ts
  SERVICES=${name} REDIS_URL=redis://127.0.0.1:6379 npm start     # one ${name} node joins the cluster
  curl http://localhost:3001/${name}/hello?name=Ada                 # through any gateway
  docker-compose up -d --build rncp-${name}
Then describe GET /${name}/hello in the README's REST API table.`);
	return 0;
}

if (require.main === module) process.exit(main(process.argv.slice(2)));
