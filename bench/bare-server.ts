import { createServer } from "node:http";
import { hashPassword } from "../services/users/password";

/*
 * The bare `node:http` server every scenario is compared with, in the same run:
 * it answers what the product answers (same JSON bytes, same status) without
 * any framework. `BARE_GET` is the body of `GET /users/:id`, `BARE_LIST` the
 * body of `GET /users?…`; `POST /users` hashes the password with the product's
 * own KDF, so the sign-up ratio shows what the stack adds on top of scrypt.
 */
const getBody = Buffer.from(process.env.BARE_GET ?? "{}");
const listBody = Buffer.from(process.env.BARE_LIST ?? "{}");
const port = Number(process.env.BARE_PORT ?? 0);

function send(res: import("node:http").ServerResponse, status: number, body: Buffer): void {
	res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Content-Length": body.length });
	res.end(body);
}

const server = createServer((req, res) => {
	if (req.method === "GET") {
		send(res, 200, req.url?.startsWith("/users?") ? listBody : getBody);
		return;
	}
	if (req.method === "POST") {
		const chunks: Buffer[] = [];
		req.on("data", (chunk: Buffer) => chunks.push(chunk));
		req.on("end", () => {
			let password = "";
			try {
				password = String(
					(JSON.parse(Buffer.concat(chunks).toString("utf8")) as { password?: unknown }).password ?? ""
				);
			} catch {
				send(res, 400, Buffer.from("{}"));
				return;
			}
			hashPassword(password).then(
				() => send(res, 201, getBody),
				() => send(res, 500, Buffer.from("{}"))
			);
		});
		return;
	}
	send(res, 404, Buffer.from("{}"));
});

server.keepAliveTimeout = 5000;
server.listen(port, "127.0.0.1", () => {
	const address = server.address();
	console.log(`listening ${typeof address === "object" && address ? address.port : port}`);
});
process.on("SIGTERM", () => {
	server.close(() => process.exit(0));
	server.closeAllConnections();
});
