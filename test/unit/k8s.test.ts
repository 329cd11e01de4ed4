import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import { ALL_SERVICES, loadConfig, type AppConfig } from "../../src/config";
import { CHECK_TIMEOUT_MS, HEALTH_PATHS } from "../../src/health";

/**
 * The Kubernetes manifests (deploy/k8s/): every object valid against the
 * Kubernetes schemas (npm `kubernetes-models`), and no drift from what the
 * nodes really read and serve (src/config.ts, src/health.ts, the Dockerfile,
 * moleculer.config.ts). No cluster here: schema-checked, not applied.
 */

const ROOT = path.resolve(__dirname, "..", "..");
const K8S = path.join(ROOT, "deploy", "k8s");
const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");

interface K8sObject {
	apiVersion: string;
	kind: string;
	metadata: { name: string; labels?: Record<string, string> };
	// The manifests' shapes are checked by the schema validation below.
	// eslint-disable-next-line @typescript-eslint/no-explicit-any
	spec?: any;
	data?: Record<string, string>;
}

function load(file: string): K8sObject[] {
	return parseAllDocuments(readFileSync(file, "utf8")).map(doc => {
		if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0].message}`);
		return doc.toJS() as K8sObject;
	});
}

const files = [
	...readdirSync(K8S).filter(f => /\.ya?ml$/.test(f)),
	...readdirSync(path.join(K8S, "optional")).map(f => path.join("optional", f))
];
const objects = files.flatMap(f => load(path.join(K8S, f)).map(o => ({ file: f, ...o })));
const applied = objects.filter(o => !o.file.startsWith("optional"));
const byKind = (kind: string) => applied.filter(o => o.kind === kind);
const named = (kind: string, name: string) => {
	const found = applied.find(o => o.kind === kind && o.metadata.name === name);
	if (!found) throw new Error(`no ${kind} ${name} in deploy/k8s`);
	return found;
};

/**
 * Validates objects in a Node child process: `kubernetes-models` ships ES
 * modules only, which Jest's CommonJS runtime cannot load; Node imports them.
 * Resolves one error message (or null) per object.
 */
function validate(docs: object[]): (string | null)[] {
	const script = `
		import { readFileSync } from "node:fs";
		const docs = JSON.parse(readFileSync(0, "utf8"));
		const out = [];
		for (const doc of docs) {
			const [group, version] = doc.apiVersion.includes("/") ? doc.apiVersion.split("/") : [null, doc.apiVersion];
			try {
				const mod = await import(group ? "kubernetes-models/" + group + "/" + version : "kubernetes-models/" + version);
				const Model = mod[doc.kind];
				if (!Model) throw new Error("unknown kind " + doc.apiVersion + " " + doc.kind);
				new Model(doc).validate();
				out.push(null);
			} catch (err) {
				out.push(String(err.message));
			}
		}
		process.stdout.write(JSON.stringify(out));
	`;
	const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
		cwd: ROOT,
		input: JSON.stringify(docs),
		encoding: "utf8"
	});
	if (run.status !== 0) throw new Error(run.stderr);
	return JSON.parse(run.stdout) as (string | null)[];
}

/** Every variable src/config.ts reads (`text(env, "X")`, `integer(env, "X", …)`, `env.X`…). */
function configVariables(): Set<string> {
	const source = read("src/config.ts");
	const names = [
		...source.matchAll(/\b(?:text|integer|flag|list|duration)\(env, "([A-Z0-9_]+)"/g),
		...source.matchAll(/\benv\.([A-Z0-9_]+)/g)
	].map(m => m[1]);
	return new Set(names);
}

/** A moleculer.config.ts number, e.g. `shutdownTimeout: 10_000`. */
function brokerSetting(name: string): number {
	const value = new RegExp(`${name}:\\s*([\\d_]+)`).exec(read("moleculer.config.ts"))?.[1];
	if (!value) throw new Error(`${name} not found in moleculer.config.ts`);
	return Number(value.replace(/_/g, ""));
}

const NODE_KINDS = ["api", "users", "www"] as const;
const deployment = (kind: (typeof NODE_KINDS)[number]) => named("Deployment", `rncp-${kind}`);
const container = (kind: (typeof NODE_KINDS)[number]) => deployment(kind).spec.template.spec.containers[0];

interface EnvVar {
	name: string;
	value?: string;
	valueFrom?: unknown;
}

/** The environment a node's container gets: its ConfigMaps, then its own `env`. */
function nodeEnv(kind: (typeof NODE_KINDS)[number]): Record<string, string> {
	const c = container(kind);
	const env: Record<string, string> = {};
	for (const from of c.envFrom ?? []) Object.assign(env, named("ConfigMap", from.configMapRef.name).data);
	for (const v of c.env as EnvVar[]) env[v.name] = v.value ?? `from-secret-${v.name}`;
	return env;
}

/** What the node would parse from that environment; the JWT file is a Secret volume, absent here. */
function nodeConfig(kind: (typeof NODE_KINDS)[number]): AppConfig {
	const env = nodeEnv(kind);
	if (env.JWT_SECRET_FILE) {
		delete env.JWT_SECRET_FILE;
		env.JWT_SECRET = "x".repeat(48);
	}
	// Optional Secret keys (ADMIN_*) are either both there or both absent.
	delete env.ADMIN_EMAIL;
	delete env.ADMIN_PASSWORD;
	return loadConfig(env);
}

function port(kind: (typeof NODE_KINDS)[number], name: string): number | undefined {
	return (container(kind).ports as { name: string; containerPort: number }[]).find(p => p.name === name)
		?.containerPort;
}

describe("deploy/k8s: the Kubernetes schemas", () => {
	it("finds one file per kind of node plus Redis and the shared config", () => {
		expect(files.filter(f => !f.startsWith("optional")).sort()).toEqual(
			[...ALL_SERVICES.map(kind => `${kind}.yaml`), "config.yaml", "redis.yaml"].sort()
		);
		expect(files).toContain(path.join("optional", "nats.yaml"));
	});

	it("validates every object against the Kubernetes schemas", () => {
		const errors = validate(objects.map(({ file: _file, ...o }) => o));
		expect(objects.map((o, i) => ({ object: `${o.file} ${o.kind} ${o.metadata.name}`, error: errors[i] }))).toEqual(
			objects.map(o => ({ object: `${o.file} ${o.kind} ${o.metadata.name}`, error: null }))
		);
	});

	it("rejects an invalid object (the validator is not a no-op)", () => {
		const broken = JSON.parse(JSON.stringify(deployment("users"))) as K8sObject;
		broken.spec.template.spec.containers[0].ports[0].containerPort = "health";
		expect(validate([broken])[0]).toMatch(/containerPort must be integer/);
	});
});

describe("deploy/k8s: no drift from what the nodes read and serve", () => {
	it("sets only environment variables src/config.ts reads", () => {
		const known = configVariables();
		expect(known.has("HEALTH_PORT")).toBe(true);
		const set = new Set<string>();
		for (const cm of byKind("ConfigMap")) for (const key of Object.keys(cm.data ?? {})) set.add(key);
		for (const kind of NODE_KINDS) for (const v of container(kind).env as EnvVar[]) set.add(v.name);
		expect([...set].filter(name => !known.has(name))).toEqual([]);
		// Commented alternatives name real variables too.
		const commented = [...read("deploy/k8s/config.yaml").matchAll(/^\s*#\s*([A-Z][A-Z0-9_]+):/gm)].map(m => m[1]);
		expect(commented.filter(name => !known.has(name))).toEqual([]);
	});

	it.each(NODE_KINDS)("runs %s from the one image with a configuration the node accepts", kind => {
		const config = nodeConfig(kind);
		expect(config.services).toEqual([kind]);
		expect(config.production).toBe(true);
		expect(container(kind).image).toBe(container("api").image);
		expect(deployment(kind).spec.template.spec.enableServiceLinks).toBe(false);
	});

	it.each(NODE_KINDS)("probes %s on its health port and the paths src/health.ts serves", kind => {
		const config = nodeConfig(kind);
		const c = container(kind);
		expect(config.healthPort).toBeDefined();
		expect(port(kind, "health")).toBe(config.healthPort);
		expect(c.livenessProbe.httpGet).toEqual({ path: HEALTH_PATHS.live, port: "health" });
		expect(c.startupProbe.httpGet).toEqual({ path: HEALTH_PATHS.live, port: "health" });
		expect(c.readinessProbe.httpGet).toEqual({ path: HEALTH_PATHS.ready, port: "health" });
		// A readiness check may take CHECK_TIMEOUT_MS before it reports a failure.
		expect(c.readinessProbe.timeoutSeconds * 1000).toBeGreaterThan(CHECK_TIMEOUT_MS);
	});

	it("opens the ports the nodes listen on (PORT, WWW_PORT, METRICS_PORT)", () => {
		expect(port("api", "http")).toBe(nodeConfig("api").port);
		expect(port("www", "http")).toBe(nodeConfig("www").wwwPort);
		for (const kind of NODE_KINDS) expect(port(kind, "metrics")).toBe(nodeConfig(kind).metricsPort);
		expect(port("users", "http")).toBeUndefined();
		expect(nodeConfig("api").port).not.toBe(nodeConfig("api").healthPort);
	});

	it("puts the gateway and the PWA behind Services and the users nodes behind none", () => {
		for (const kind of ["api", "www"] as const) {
			const svc = named("Service", `rncp-${kind}`);
			expect(svc.spec.selector).toEqual(deployment(kind).spec.selector.matchLabels);
			expect(svc.spec.ports.map((p: { targetPort: string }) => p.targetPort)).toEqual(["http"]);
		}
		const selectsUsers = byKind("Service").filter(
			s => s.spec.selector?.["app.kubernetes.io/component"] === "users"
		);
		expect(selectsUsers).toEqual([]);
	});

	it.each(NODE_KINDS)("selects the %s pods with labels the template carries", kind => {
		const d = deployment(kind);
		const labels = d.spec.template.metadata.labels;
		for (const [k, v] of Object.entries(d.spec.selector.matchLabels)) expect(labels[k]).toBe(v);
	});

	it.each(["api", "users"] as const)("gives %s a PodDisruptionBudget and a CPU HorizontalPodAutoscaler", kind => {
		const d = deployment(kind);
		const pdb = byKind("PodDisruptionBudget").find(p => p.metadata.name === `rncp-${kind}`);
		expect(pdb?.spec.selector.matchLabels).toEqual(d.spec.selector.matchLabels);
		expect(pdb?.spec.minAvailable).toBeLessThan(d.spec.replicas);
		const hpa = byKind("HorizontalPodAutoscaler").find(h => h.metadata.name === `rncp-${kind}`);
		expect(hpa?.spec.scaleTargetRef).toEqual({ apiVersion: "apps/v1", kind: "Deployment", name: d.metadata.name });
		expect(hpa?.spec.minReplicas).toBeGreaterThanOrEqual(2);
		expect(hpa?.spec.metrics[0].resource.name).toBe("cpu");
		// Utilization is relative to the request: there must be one.
		expect(container(kind).resources.requests.cpu).toBeDefined();
	});

	it.each(NODE_KINDS)("gives %s a stop grace longer than preStop and the node's drain", kind => {
		const spec = deployment(kind).spec.template.spec;
		const preStop = spec.containers[0].lifecycle.preStop.exec.command as string[];
		expect(preStop[0]).toBe("sleep");
		const drain = brokerSetting("stopDelay") / 1000 + 1 + brokerSetting("shutdownTimeout") / 1000;
		expect(spec.terminationGracePeriodSeconds).toBeGreaterThan(Number(preStop[1]) + drain);
	});

	it("runs every container non-root, read-only, without privilege escalation or capabilities", () => {
		expect(read("Dockerfile")).toMatch(/^USER node$/m);
		for (const o of applied.filter(o => o.kind === "Deployment" || o.kind === "StatefulSet")) {
			const pod = o.spec.template.spec;
			expect(pod.securityContext.runAsNonRoot).toBe(true);
			expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
			expect(pod.automountServiceAccountToken).toBe(false);
			for (const c of pod.containers) {
				expect(c.securityContext).toEqual({
					allowPrivilegeEscalation: false,
					readOnlyRootFilesystem: true,
					capabilities: { drop: ["ALL"] }
				});
				expect(Object.keys(c.resources.requests).sort()).toEqual(["cpu", "memory"]);
				expect(Object.keys(c.resources.limits).sort()).toEqual(["cpu", "memory"]);
			}
		}
		// The image's `node` user (node:24-alpine) is uid 1000.
		for (const kind of NODE_KINDS) expect(deployment(kind).spec.template.spec.securityContext.runAsUser).toBe(1000);
	});

	it("reads the JWT secret from a Secret volume, never from a literal", () => {
		const env = container("api").env as EnvVar[];
		const file = env.find(v => v.name === "JWT_SECRET_FILE")?.value;
		expect(env.find(v => v.name === "JWT_SECRET")).toBeUndefined();
		const mount = container("api").volumeMounts.find((m: { mountPath: string }) => file?.startsWith(m.mountPath));
		expect(mount.readOnly).toBe(true);
		const volume = deployment("api").spec.template.spec.volumes.find(
			(v: { name: string }) => v.name === mount.name
		);
		expect(volume.secret.secretName).toBe("rncp-jwt");
		expect(path.join(mount.mountPath, volume.secret.items[0].path)).toBe(file);
		expect(byKind("Secret")).toEqual([]);
	});

	it("keeps Redis on a PersistentVolumeClaim with AOF, reachable only from the nodes", () => {
		const redis = named("StatefulSet", "redis");
		expect(redis.spec.template.spec.containers[0].command.join(" ")).toMatch(/--appendonly yes/);
		expect(redis.spec.volumeClaimTemplates[0].metadata.name).toBe("data");
		expect(nodeConfig("users").redisUrl).toBe(`redis://${named("Service", "redis").metadata.name}:6379`);
		const policy = named("NetworkPolicy", "redis");
		expect(policy.spec.ingress).toEqual([
			{
				from: [
					{
						podSelector: {
							matchExpressions: [
								{ key: "app.kubernetes.io/component", operator: "In", values: [...ALL_SERVICES] },
								{ key: "app.kubernetes.io/part-of", operator: "In", values: ["rncp"] }
							]
						}
					}
				],
				ports: [{ port: "redis", protocol: "TCP" }]
			}
		]);
	});

	it("denies incoming traffic by default and opens only the gateway's and the PWA's HTTP ports", () => {
		const deny = named("NetworkPolicy", "rncp-default-deny-ingress");
		expect(deny.spec).toEqual({
			podSelector: { matchLabels: { "app.kubernetes.io/part-of": "rncp" } },
			policyTypes: ["Ingress"]
		});
		const open = byKind("NetworkPolicy").filter(p => p.spec.ingress?.some((r: { from?: unknown }) => !r.from));
		expect(open.map(p => p.metadata.name).sort()).toEqual(["rncp-api", "rncp-www"]);
		for (const p of open) expect(p.spec.ingress).toEqual([{ ports: [{ port: "http", protocol: "TCP" }] }]);
	});
});
