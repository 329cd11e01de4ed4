import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

/**
 * Writes a random signing secret to the given file unless one is there:
 * `docker-compose up` then needs no JWT_SECRET, every gateway reads the same
 * secret (JWT_SECRET_FILE), and it survives restarts on its volume.
 */
const file = process.argv[2];
if (!file) {
	console.error("usage: init-secret <file>");
	process.exit(2);
}
if (existsSync(file)) {
	console.log(`${file} exists, kept`);
} else {
	mkdirSync(path.dirname(file), { recursive: true });
	writeFileSync(file, randomBytes(48).toString("base64"), { mode: 0o444, flag: "wx" });
	console.log(`${file} written`);
}
