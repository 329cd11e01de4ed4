import jwt from "jsonwebtoken";
import type { Role } from "../users/types";

const ALGORITHM = "HS256";
const ISSUER = "rncp-api";
const AUDIENCE = "rncp-api";

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
	constructor(
		private readonly secret: string,
		private readonly expiresIn: number
	) {}

	sign(claims: TokenClaims): SignedToken {
		const token = jwt.sign({ role: claims.role, ver: claims.ver }, this.secret, {
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
	 * (`none` included), expired, wrong issuer/audience, or malformed claims.
	 */
	verify(token: string): TokenClaims | null {
		try {
			const payload = jwt.verify(token, this.secret, {
				algorithms: [ALGORITHM],
				issuer: ISSUER,
				audience: AUDIENCE
			});
			if (typeof payload !== "object" || payload === null) return null;
			const { sub, role, ver } = payload as Record<string, unknown>;
			if (typeof sub !== "string" || (role !== "user" && role !== "admin") || !Number.isInteger(ver)) return null;
			return { sub, role, ver: ver as number };
		} catch {
			return null;
		}
	}
}
