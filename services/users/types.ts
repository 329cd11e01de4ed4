/** Contracts shared by the users service, the gateway and the PWA. */

export type Role = "user" | "admin";
export const ROLES: readonly Role[] = ["user", "admin"];

/** A user as it leaves the users service: never with its password hash. */
export interface PublicUser {
	id: string;
	email: string;
	name: string;
	role: Role;
	createdAt: string;
	updatedAt: string;
}

/** A user as the store keeps it. */
export interface UserRecord extends PublicUser {
	passwordHash: string;
	/** Bumped when the password changes, so older tokens can be refused. */
	tokenVersion: number;
}

export interface UserPage {
	rows: PublicUser[];
	total: number;
	page: number;
	pageSize: number;
	totalPages: number;
}

export interface UsersHealth {
	status: "ok" | "down";
	nodeID: string;
	store: {
		kind: "redis" | "memory";
		reachable: boolean;
		latencyMs: number | null;
		error?: string;
	};
}

/** What `users.verifyCredentials` answers: the gateway signs a token from it. */
export interface Credentials {
	user: PublicUser;
	tokenVersion: number;
}

/** What a token is checked against on every authenticated request. */
export interface AuthState {
	id: string;
	role: Role;
	tokenVersion: number;
}
