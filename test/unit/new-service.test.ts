import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { plan } from "../../scripts/new-service";

/**
 * The generator's plan on a small repository: the real compose file and
 * config, and a `deploy/k8s/` with a users Deployment (the end-to-end run is
 * test/cluster/new-service.test.ts).
 */

const ROOT = path.resolve(__dirname, "..", "..");

const USERS_DEPLOYMENT = `apiVersion: v1
kind: Service
metadata:
  name: rncp-gateway
spec:
  selector:
    app: rncp-gateway
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: rncp-users
  labels:
    app: rncp-users
spec:
  replicas: 3
  selector:
    matchLabels:
      app: rncp-users
  template:
    metadata:
      labels:
        app: rncp-users
    spec:
      containers:
        - name: rncp-users
          image: rncp-api:1.0
          env:
            - name: SERVICES
              value: users
            - name: REDIS_URL
              value: redis://redis:6379
          readinessProbe:
            httpGet:
              path: /ready
              port: 3040
`;

describe("new:service plan", () => {
	let root: string;

	beforeEach(() => {
		root = mkdtempSync(path.join(tmpdir(), "rncp-plan-"));
		for (const f of ["docker-compose.yml", "src/config.ts", "services/users.service.ts"]) {
			mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
			cpSync(path.join(ROOT, f), path.join(root, f), { recursive: true });
		}
	});
	afterEach(() => rmSync(root, { recursive: true, force: true }));

	it("models the Deployment on the users one: names, SERVICES and one replica", () => {
		mkdirSync(path.join(root, "deploy", "k8s"), { recursive: true });
		writeFileSync(path.join(root, "deploy", "k8s", "users.yaml"), USERS_DEPLOYMENT);
		const files = plan(root, "order-history");
		expect(files.map(f => f.path)).toEqual([
			"services/order-history.service.ts",
			"test/unit/order-history.service.test.ts",
			"docker-compose.yml",
			"src/config.ts",
			"deploy/k8s/order-history.yaml"
		]);
		const deployment = parse(files[4].content) as {
			metadata: { name: string; labels: { app: string } };
			spec: {
				replicas: number;
				selector: { matchLabels: { app: string } };
				template: {
					spec: { containers: { name: string; image: string; env: { name: string; value: string }[] }[] };
				};
			};
		};
		expect(deployment.metadata).toEqual({ name: "rncp-order-history", labels: { app: "rncp-order-history" } });
		expect(deployment.spec.replicas).toBe(1);
		expect(deployment.spec.selector.matchLabels.app).toBe("rncp-order-history");
		const [container] = deployment.spec.template.spec.containers;
		expect(container.image).toBe("rncp-api:1.0");
		expect(container.env).toEqual([
			{ name: "SERVICES", value: "order-history" },
			{ name: "REDIS_URL", value: "redis://redis:6379" }
		]);
		expect(files[0].content).toContain("export interface OrderHistorySettings");
		expect(files[0].content).toContain('rest: "/order-history"');
	});

	it("skips the Deployment, with its reason, when deploy/k8s/ has no users Deployment to model on", () => {
		mkdirSync(path.join(root, "deploy", "k8s"), { recursive: true });
		writeFileSync(path.join(root, "deploy", "k8s", "other.yaml"), "kind: ConfigMap\nmetadata:\n  name: x\n");
		const files = plan(root, "orders");
		expect(files.filter(f => f.skipped)).toEqual([
			expect.objectContaining({ skipped: expect.stringMatching(/no Deployment running SERVICES=users/) })
		]);
	});

	it("writes no Deployment without deploy/k8s/", () => {
		expect(plan(root, "orders").map(f => f.path)).not.toContain("deploy/k8s/orders.yaml");
	});
});
