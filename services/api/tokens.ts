import { createSecretKey, type KeyObject } from "node:crypto";
import jwt from "jsonwebtoken";
import type { Role } from "../users/types";

const ALGORITHM = "HS256";
const ISSUER = "rncp-api";
const AUDIENCE = "rncp-api";

/**
 * RFC 6750 §2.1: `"Bearer" 1*SP b64token`, the scheme case-insensitive
 * (RFC 9110 §11.1); b64token is base64 characters with `=` only at the end.
 */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

/**
 * The token of a request's `Authorization` header: `undefined` when there is
 * none, null when it is not one well-formed bearer credential. Authorization
 * is a singleton field (RFC 9110 §5.3): Node keeps the first of several
 * lines, so they are counted in the raw headers and refused together.
 */
export function bearerToken(req: {
	headers: { authorization?: string };
	rawHeaders: string[];
}): string | null | undefined {
	const header = req.headers.authorization;
	if (!header) return undefined;
	let lines = 0;
	for (let i = 0; i < req.rawHeaders.length; i += 2) {
		if (req.rawHeaders[i].toLowerCase() === "authorization") lines++;
	}
	if (lines > 1) return null;
	return BEARER.exec(header)?.[1] ?? null;
}

/** The claims our tokens carry. */
export interface TokenClaims {
	sub: string;
	role: Role;
	/** The user's token version at sign-in: a password change invalidates the token. */
	ver: number;
}

export interface SignedToken {
	token: string;
	expiresIn: number;
}

/** HS256 tokens with issuer, audience and expiry, signed with `JWT_SECRET`. */
export class TokenService {
	/**
	 * The secret as a KeyObject, made once: given a string, jsonwebtoken tries
	 * (and fails) to parse it as a public key, then builds a secret key, on
	 * every call; that was a tenth of the gateway's CPU per request.
	 */
	private readonly key: KeyObject;

	constructor(
		secret: string,
		private readonly expiresIn: number
	) {
		this.key = createSecretKey(Buffer.from(secret, "utf8"));
	}

	sign(claims: TokenClaims): SignedToken {
		const token = jwt.sign({ role: claims.role, ver: claims.ver }, this.key, {
			algorithm: ALGORITHM,
			subject: claims.sub,
			issuer: ISSUER,
			audience: AUDIENCE,
			expiresIn: this.expiresIn
		});
		return { token, expiresIn: this.expiresIn };
	}

	/**
	 * The claims of a valid token, or null: bad signature, other algorithm
	 * (`none` included), expired, wrong issuer/audience, malformed claims, or a
	 * header we cannot honour: any `crit` (we implement no JWS extension, and
	 * RFC 7515 §4.1.11 requires refusing one not understood; jsonwebtoken does
	 * not look at it), a `typ` other than JWT (RFC 8725 §3.11), or a `kid` (we
	 * sign with one key and never name it, so a named key is not ours).
	 */
	verify(token: string): TokenClaims | null {
		try {
			const { header, payload } = jwt.verify(token, this.key, {
				algorithms: [ALGORITHM],
				issuer: ISSUER,
				audience: AUDIENCE,
				complete: true
			});
			const extra = header as unknown as Record<string, unknown>;
			if ("crit" in extra || "kid" in extra) return null;
			if (header.typ !== undefined && header.typ.toUpperCase() !== "JWT") return null;
			if (typeof payload !== "object" || payload === null) return null;
			const { sub, role, ver } = payload as Record<string, unknown>;
			if (typeof sub !== "string" || (role !== "user" && role !== "admin") || !Number.isInteger(ver)) return null;
			return { sub, role, ver: ver as number };
		} catch {
			return null;
		}
	}
}
