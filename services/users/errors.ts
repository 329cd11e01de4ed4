import { Errors } from "moleculer";

/** 404: no user has this id. */
export class UserNotFoundError extends Errors.MoleculerClientError {
	constructor(id: string) {
		super("User not found", 404, "USER_NOT_FOUND", { id });
		this.name = "UserNotFoundError";
	}
}

/** 409: another user already has this email. */
export class EmailTakenError extends Errors.MoleculerClientError {
	constructor(email: string) {
		super("Email is already registered", 409, "EMAIL_TAKEN", { email });
		this.name = "EmailTakenError";
	}
}

/**
 * 503: the user store cannot be reached. Not retryable: every users node shares
 * the same store, so asking another one would not help.
 */
export class StoreUnavailableError extends Errors.MoleculerError {
	constructor() {
		super("User store unavailable", 503, "STORE_UNAVAILABLE");
		this.name = "StoreUnavailableError";
	}
}

/** 401: unknown email or wrong password — one message for both. */
export class InvalidCredentialsError extends Errors.MoleculerClientError {
	constructor() {
		super("Invalid email or password", 401, "INVALID_CREDENTIALS");
		this.name = "InvalidCredentialsError";
	}
}

/** 403: the caller may not act on this user, or may not change this field. */
export class ForbiddenUserChangeError extends Errors.MoleculerClientError {
	constructor(reason: string) {
		super(reason, 403, "FORBIDDEN");
		this.name = "ForbiddenUserChangeError";
	}
}

/** 403: changing one's own email or password needs the right current password. */
export class WrongPasswordError extends Errors.MoleculerClientError {
	constructor() {
		super("Current password is wrong", 403, "WRONG_PASSWORD");
		this.name = "WrongPasswordError";
	}
}
