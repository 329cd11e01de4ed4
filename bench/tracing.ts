import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * `--tracing`: one more deployment with TRACING_URL pointing at a span sink in
 * this process (it counts and drops what it gets), loaded in the same rounds
 * as the others, so the cost of tracing reads as a same-round ratio.
 */
export interface TracingVariant {
	variant: { name: string; env: Record<string, string> };
	/** Span batches and bytes the nodes posted so far. */
	received(): { posts: number; bytes: number };
	close(): Promise<void>;
}

export async function startTracingVariant(argv: string[]): Promise<TracingVariant | undefined> {
	if (!argv.includes("--tracing")) return undefined;
	let posts = 0;
	let bytes = 0;
	const server = createServer((req, res) => {
		req.on("data", (chunk: Buffer) => (bytes += chunk.length));
		req.on("end", () => {
			posts++;
			res.writeHead(202).end();
		});
	});
	await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve));
	const { port } = server.address() as AddressInfo;
	return {
		variant: { name: "tracing", env: { TRACING_URL: `http://127.0.0.1:${port}` } },
		received: () => ({ posts, bytes }),
		close: () => new Promise(resolve => server.close(() => resolve()))
	};
}
