import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo, Server } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { ServiceBroker, type Service } from "moleculer";
import ApiService from "../../services/api.service";
import UsersService from "../../services/users.service";
import { http } from "../support/node-process";
import { freePort, waitFor } from "../support/redis-server";

const ROOT = path.resolve(__dirname, "..", "..");
const DASHBOARD = path.join(ROOT, "deploy", "grafana", "dashboards", "rncp-api.json");
const PROMETHEUS = path.join(ROOT, "deploy", "prometheus", "prometheus.yml");
const DATASOURCE = path.join(ROOT, "deploy", "grafana", "provisioning", "datasources", "prometheus.yml");

interface Panel {
	type: string;
	title: string;
	datasource?: { uid: string };
	targets?: { expr: string; datasource?: { uid: string } }[];
}

/** Labels Prometheus itself puts on every scraped series (job, instance) or on `up`. */
const SCRAPE_LABELS = new Set(["job", "instance", "service"]);
/** Metrics Prometheus makes itself, not scraped from our nodes. */
const PROMETHEUS_METRICS = new Set(["up"]);
const METRIC_NAME = /\b(?:rncp|moleculer|process|os)_[a-z0-9_]+\b|\bup\b/g;

function dashboardQueries(): { title: string; expr: string }[] {
	const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as { panels: Panel[] };
	return dashboard.panels
		.filter(p => p.type !== "row")
		.flatMap(p => (p.targets ?? []).map(t => ({ title: p.title, expr: t.expr })));
}

/** Label names a query groups or filters by. */
function labelsOf(expr: string): string[] {
	const labels = new Set<string>();
	for (const m of expr.matchAll(/\bby\s*\(([^)]*)\)/g)) {
		for (const l of m[1].split(",")) labels.add(l.trim());
	}
	for (const m of expr.matchAll(/\{([^}]*)\}/g)) {
		for (const matcher of m[1].split(",")) {
			const name = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/.exec(matcher);
			if (name) labels.add(name[1]);
		}
	}
	return [...labels].filter(Boolean);
}

/** Metric name → label names seen, from a Prometheus text exposition. */
function parseExposition(text: string): Map<string, Set<string>> {
	const series = new Map<string, Set<string>>();
	for (const line of text.split("\n")) {
		const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s/.exec(line);
		if (!m) continue;
		const labels = series.get(m[1]) ?? new Set<string>();
		for (const l of (m[3] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) labels.add(l[1]);
		series.set(m[1], labels);
	}
	return series;
}

function hasPromtool(): boolean {
	try {
		execFileSync("promtool", ["--version"], { stdio: "ignore" });
		return true;
	} catch {
		return false;
	}
}

describe("Grafana dashboard (deploy/grafana/dashboards/rncp-api.json)", () => {
	let broker: ServiceBroker;
	let baseUrl: string;
	let scraped: Map<string, Set<string>>;

	beforeAll(async () => {
		const metricsPort = await freePort();
		broker = new ServiceBroker({
			logger: false,
			cacher: "MemoryLRU",
			metrics: {
				enabled: true,
				// Moleculer skips process metrics when NODE_ENV is "test", as under Jest.
				collectProcessMetrics: true,
				collectInterval: 1,
				reporter: { type: "Prometheus", options: { port: metricsPort, path: "/metrics" } }
			}
		});
		broker.createService({ ...ApiService, settings: { ...ApiService.settings, port: 0, ip: "127.0.0.1" } });
		broker.createService({ ...UsersService, settings: { ...UsersService.settings, redisUrl: undefined } });
		await broker.start();
		const { port } = (
			broker.getLocalService("api") as Service & { server: Server }
		).server.address() as AddressInfo;
		baseUrl = `http://127.0.0.1:${port}`;

		// Traffic that makes every metric family appear: success, cache hit, action error, unmatched route.
		const signUp = await http<{ id: string }>(`${baseUrl}/users`, {
			method: "POST",
			json: { email: "metrics@example.test", name: "Metrics", password: "metrics-password" }
		});
		expect(signUp.status).toBe(201);
		const login = await http<{ token: string }>(`${baseUrl}/auth/login`, {
			method: "POST",
			json: { email: "metrics@example.test", password: "metrics-password" }
		});
		expect(login.status).toBe(200);
		const headers = { authorization: `Bearer ${login.body.token}` };
		expect((await http(`${baseUrl}/users/${signUp.body.id}`, { headers })).status).toBe(200);
		expect((await http(`${baseUrl}/users/${signUp.body.id}`, { headers })).status).toBe(200);
		expect((await http(`${baseUrl}/users/00000000-0000-4000-8000-000000000000`, { headers })).status).toBe(404);
		await http(`${baseUrl}/no-such-route`);
		// Process and OS gauges are filled by the first periodic collection.
		scraped = await waitFor(
			async () => {
				const series = parseExposition((await http<string>(`http://127.0.0.1:${metricsPort}/metrics`)).text);
				return series.has("process_memory_rss") && series.has("os_cpu_utilization") ? series : false;
			},
			{ timeoutMs: 10_000, intervalMs: 200, what: "process metrics in the scrape" }
		);
	}, 20_000);

	afterAll(() => broker?.stop());

	it("has panels, each querying the provisioned Prometheus datasource", () => {
		const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as { uid: string; panels: Panel[] };
		const uid = /^\s*uid:\s*(\S+)\s*$/m.exec(readFileSync(DATASOURCE, "utf8"))?.[1];
		expect(dashboard.uid).toBe("rncp-api");
		const panels = dashboard.panels.filter(p => p.type !== "row");
		expect(panels.length).toBeGreaterThanOrEqual(10);
		const wrong = panels.filter(
			p => p.datasource?.uid !== uid || !p.targets?.length || p.targets.some(t => t.datasource?.uid !== uid)
		);
		expect(wrong.map(p => p.title)).toEqual([]);
	});

	it("covers requests, errors and p50/p99 per route and per node, and users nodes up", () => {
		const all = dashboardQueries().map(q => q.expr);
		const some = (re: RegExp) => all.some(e => re.test(e));
		expect(
			some(
				/rate\(rncp_http_requests_total\[.*by \(method, route\)|by \(method, route\) \(rate\(rncp_http_requests_total/
			)
		).toBe(true);
		expect(some(/rncp_http_requests_total\{status=~"\[45\]\.\."\}/)).toBe(true);
		expect(some(/histogram_quantile\(0\.5, sum by \(le, method, route\)/)).toBe(true);
		expect(some(/histogram_quantile\(0\.99, sum by \(le, method, route\)/)).toBe(true);
		expect(some(/histogram_quantile\(0\.99, sum by \(le, nodeID\)/)).toBe(true);
		expect(some(/up\{job="rncp-user-service"\}/)).toBe(true);
	});

	it("references only metrics and labels a node exports", () => {
		const problems: string[] = [];
		for (const { title, expr } of dashboardQueries()) {
			const names = [...new Set(expr.match(METRIC_NAME) ?? [])].filter(n => !PROMETHEUS_METRICS.has(n));
			for (const name of names) {
				if (!scraped.has(name)) problems.push(`${title}: metric ${name} is not exported`);
			}
			const exported = new Set(names.flatMap(n => [...(scraped.get(n) ?? [])]));
			for (const label of labelsOf(expr)) {
				if (!exported.has(label) && !SCRAPE_LABELS.has(label))
					problems.push(`${title}: label ${label} is on none of ${names.join(", ") || "its metrics"}`);
			}
		}
		expect(problems).toEqual([]);
	});

	(hasPromtool() ? it : it.skip)("has queries promtool parses (as recording rules)", () => {
		const dir = mkdtempSync(path.join(tmpdir(), "rncp-dashboard-"));
		try {
			const rules = dashboardQueries()
				.map(
					(q, i) =>
						`      - record: dashboard:query_${i}\n        expr: ${JSON.stringify(q.expr.replaceAll("$__rate_interval", "1m"))}`
				)
				.join("\n");
			const file = path.join(dir, "rules.yml");
			writeFileSync(file, `groups:\n  - name: dashboard\n    rules:\n${rules}\n`);
			execFileSync("promtool", ["check", "rules", file], { stdio: "pipe" });
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});
});

describe("Prometheus config (deploy/prometheus/prometheus.yml)", () => {
	const config = readFileSync(PROMETHEUS, "utf8");

	it.each(["rncp-api-gateway", "rncp-user-service", "rncp-pwa-front"])(
		"finds every replica of %s by Docker DNS on the metrics port",
		service => {
			const job = new RegExp(
				`job_name: ${service}\\s+dns_sd_configs:\\s+- names: \\["${service}"\\]\\s+type: A\\s+port: 3030`
			);
			expect(config).toMatch(job);
		}
	);

	(hasPromtool() ? it : it.skip)("passes promtool check config", () => {
		expect(() => execFileSync("promtool", ["check", "config", PROMETHEUS], { stdio: "pipe" })).not.toThrow();
	});
});

describe("docker-compose.yml monitoring profile", () => {
	const compose = readFileSync(path.join(ROOT, "docker-compose.yml"), "utf8");

	it("gives every node the metrics port Prometheus scrapes", () => {
		expect(compose).toMatch(/x-node-env: &node-env[\s\S]*?METRICS_PORT: "3030"/);
	});

	it.each(["prometheus", "grafana"])("starts %s only with the monitoring profile", service => {
		expect(compose).toMatch(
			new RegExp(`\\n    ${service}:\\n(        .*\\n)*?        profiles: \\["monitoring"\\]`)
		);
	});
});
