import { randomUUID } from "node:crypto";
import compress from "@fastify/compress";
import helmet from "@fastify/helmet";
import fastifyJwt from "@fastify/jwt";
import rateLimit from "@fastify/rate-limit";
import Fastify from "fastify";

/*
 * The full-feature single-process peer of the embedded product: fastify with
 * helmet, compression (1 kB threshold), an in-memory rate limit, HS256 JWT
 * verification (issuer, audience, expiry) of the product's own tokens, a token
 * version check against the stored user, one pino JSON access line per
 * request, and X-Request-ID. It serves `GET /users/:id` of the one stored user
 * (`PEER_USER`, the product's JSON of it).
 */
const port = Number(process.env.PEER_PORT ?? 0);
const user = JSON.parse(process.env.PEER_USER ?? "{}") as { id: string };
const stored = new Map([[user.id, { user, tokenVersion: Number(process.env.PEER_TOKEN_VERSION ?? 0) }]]);
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

interface Claims {
	sub: string;
	ver: number;
}

const app = Fastify({
	logger: { level: "info" },
	disableRequestLogging: true,
	genReqId: req => {
		const header = req.headers["x-request-id"];
		return typeof header === "string" && REQUEST_ID.test(header) ? header : randomUUID();
	}
});

async function main(): Promise<void> {
	await app.register(helmet, { crossOriginResourcePolicy: { policy: "same-site" } });
	await app.register(compress, { threshold: 1024 });
	await app.register(rateLimit, { max: 1_000_000_000, timeWindow: 60_000 });
	await app.register(fastifyJwt, {
		secret: process.env.JWT_SECRET as string,
		verify: { algorithms: ["HS256"], allowedIss: "rncp-api", allowedAud: "rncp-api" }
	});

	app.addHook("onRequest", async (req, reply) => {
		reply.header("X-Request-ID", req.id);
	});
	app.addHook("onResponse", async (req, reply) => {
		req.log.info(
			{
				event: "access",
				method: req.method,
				path: req.url.split("?")[0],
				status: reply.statusCode,
				durationMs: Math.round(reply.elapsedTime * 100) / 100,
				requestID: req.id,
				client: req.ip
			},
			"access"
		);
	});

	app.get<{ Params: { id: string } }>("/users/:id", async (req, reply) => {
		let claims: Claims;
		try {
			claims = await req.jwtVerify<Claims>();
		} catch {
			return reply.code(401).send({ name: "UnAuthorizedError", code: 401, type: "INVALID_TOKEN" });
		}
		const caller = stored.get(claims.sub);
		if (!caller || caller.tokenVersion !== claims.ver) {
			return reply.code(401).send({ name: "UnAuthorizedError", code: 401, type: "INVALID_TOKEN" });
		}
		const found = stored.get(req.params.id);
		if (!found) return reply.code(404).send({ code: 404, type: "USER_NOT_FOUND" });
		return found.user;
	});

	await app.listen({ port, host: "127.0.0.1" });
}

process.on("SIGTERM", () => void app.close().then(() => process.exit(0)));
main().catch(err => {
	console.error(err);
	process.exit(1);
});
