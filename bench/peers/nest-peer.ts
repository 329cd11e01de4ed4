import "reflect-metadata";
import { createSecretKey } from "node:crypto";
import {
	Controller,
	Get,
	Inject,
	Injectable,
	Module,
	Param,
	UseGuards,
	type CanActivate,
	type ExecutionContext,
	type INestApplication,
	type INestMicroservice
} from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import { ClientsModule, MessagePattern, Payload, Transport, type ClientProxy } from "@nestjs/microservices";
import jwt from "jsonwebtoken";
import type { Observable } from "rxjs";

/*
 * The NestJS peer of the clustered product, one process per role
 * (`PEER_ROLE=gateway` or `users`): an Express gateway whose Bearer guard
 * verifies the product's HS256 tokens (issuer, audience, expiry), calling a
 * Nest microservice over Nest's Redis transport (the bench's private Redis),
 * which answers the stored user (`PEER_USER`). No rate limit, security
 * headers or access log: the stack a user would compare the product with.
 * Decorators are applied as functions: this code base does not compile
 * decorator syntax.
 */
const redis = new URL(process.env.PEER_REDIS_URL ?? "redis://127.0.0.1:6379");
const transport = {
	transport: Transport.REDIS as const,
	options: { host: redis.hostname, port: Number(redis.port || 6379) }
};
const PATTERN = "users.get";

class BearerGuard implements CanActivate {
	private readonly key = createSecretKey(Buffer.from(process.env.JWT_SECRET as string, "utf8"));

	canActivate(context: ExecutionContext): boolean {
		const header = context.switchToHttp().getRequest<{ headers: Record<string, string> }>().headers.authorization;
		const match = header ? /^Bearer (.+)$/i.exec(header) : null;
		if (!match) return false;
		try {
			jwt.verify(match[1], this.key, { algorithms: ["HS256"], issuer: "rncp-api", audience: "rncp-api" });
			return true;
		} catch {
			return false;
		}
	}
}
Injectable()(BearerGuard);

class UsersGatewayController {
	constructor(private readonly users: ClientProxy) {}

	get(id: string): Observable<unknown> {
		return this.users.send(PATTERN, { id });
	}
}
Controller("users")(UsersGatewayController);
Inject("USERS")(UsersGatewayController, undefined, 0);
{
	const proto = UsersGatewayController.prototype;
	const descriptor = Object.getOwnPropertyDescriptor(proto, "get") as PropertyDescriptor;
	Param("id")(proto, "get", 0);
	Get(":id")(proto, "get", descriptor);
	UseGuards(BearerGuard)(proto, "get", descriptor);
}

class GatewayModule {}
Module({
	imports: [ClientsModule.register([{ name: "USERS", ...transport }])],
	controllers: [UsersGatewayController],
	providers: [BearerGuard]
})(GatewayModule);

const user = JSON.parse(process.env.PEER_USER ?? "{}") as { id: string };
const stored = new Map([[user.id, user]]);

class UsersController {
	get(params: { id: string }): unknown {
		return stored.get(params.id) ?? null;
	}
}
Controller()(UsersController);
{
	const proto = UsersController.prototype;
	const descriptor = Object.getOwnPropertyDescriptor(proto, "get") as PropertyDescriptor;
	Payload()(proto, "get", 0);
	MessagePattern(PATTERN)(proto, "get", descriptor);
}

class UsersModule {}
Module({ controllers: [UsersController] })(UsersModule);

async function main(): Promise<void> {
	let app: INestApplication | INestMicroservice;
	if (process.env.PEER_ROLE === "users") {
		app = await NestFactory.createMicroservice(UsersModule, { ...transport, logger: ["error", "warn"] });
		await app.listen();
		console.log("users listening");
	} else {
		const http = await NestFactory.create(GatewayModule, { logger: ["error", "warn"] });
		app = http;
		await http.listen(Number(process.env.PEER_PORT ?? 0), "127.0.0.1");
		console.log("gateway listening");
	}
	process.on("SIGTERM", () => void app.close().then(() => process.exit(0)));
}

main().catch(err => {
	console.error(err);
	process.exit(1);
});
