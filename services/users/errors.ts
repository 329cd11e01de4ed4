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
