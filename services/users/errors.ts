import { Errors } from "moleculer";
import type { ErrorEntry } from "../../src/error-catalogue";

/**
 * Every error type the users service throws, once: status, class name and
 * default message. The classes below are made from it; the README's error
 * table is checked against it (test/unit/error-catalogue.test.ts).
 */
export const USERS_ERRORS = {
	INVALID_CREDENTIALS: { status: 401, name: "InvalidCredentialsError", message: "Invalid email or password" },
	FORBIDDEN: { status: 403, name: "ForbiddenUserChangeError", message: "You may not change this user" },
	WRONG_PASSWORD: { status: 403, name: "WrongPasswordError", message: "Current password is wrong" },
	USER_NOT_FOUND: { status: 404, name: "UserNotFoundError", message: "User not found" },
	EMAIL_TAKEN: { status: 409, name: "EmailTakenError", message: "Email is already registered" },
	// Not retryable: every users node shares the same store, so asking another would not help.
	STORE_UNAVAILABLE: { status: 503, name: "StoreUnavailableError", message: "User store unavailable" }
} as const satisfies Record<string, ErrorEntry>;

export type UsersErrorType = keyof typeof USERS_ERRORS;

interface Details {
	message?: string;
	data?: Record<string, unknown>;
}

/**
 * An error class of the catalogue: a `MoleculerClientError` for 4xx (a
 * `MoleculerError` for 5xx) with the entry's status as `code`, its type and
 * name; `details` turns the constructor's arguments into a message and data.
 */
function errorClass<A extends unknown[]>(type: UsersErrorType, details: (...args: A) => Details = () => ({})) {
	const { status, name, message } = USERS_ERRORS[type];
	const Base = status < 500 ? Errors.MoleculerClientError : Errors.MoleculerError;
	const ErrorClass = class extends Base {
		constructor(...args: A) {
			const d = details(...args);
			super(d.message ?? message, status, type, d.data);
			this.name = name;
		}
	};
	Object.defineProperty(ErrorClass, "name", { value: name });
	return ErrorClass;
}

/** 404: no user has this id. */
export const UserNotFoundError = errorClass("USER_NOT_FOUND", (id: string) => ({ data: { id } }));
export type UserNotFoundError = InstanceType<typeof UserNotFoundError>;

/** 409: another user already has this email. */
export const EmailTakenError = errorClass("EMAIL_TAKEN", (email: string) => ({ data: { email } }));
export type EmailTakenError = InstanceType<typeof EmailTakenError>;

/** 503: the user store cannot be reached. */
export const StoreUnavailableError = errorClass("STORE_UNAVAILABLE");
export type StoreUnavailableError = InstanceType<typeof StoreUnavailableError>;

/** 401: unknown email or wrong password — one message for both. */
export const InvalidCredentialsError = errorClass("INVALID_CREDENTIALS");
export type InvalidCredentialsError = InstanceType<typeof InvalidCredentialsError>;

/** 403: the caller may not act on this user, or may not change this field. */
export const ForbiddenUserChangeError = errorClass("FORBIDDEN", (reason: string) => ({ message: reason }));
export type ForbiddenUserChangeError = InstanceType<typeof ForbiddenUserChangeError>;

/** 403: changing one's own email or password needs the right current password. */
export const WrongPasswordError = errorClass("WRONG_PASSWORD");
export type WrongPasswordError = InstanceType<typeof WrongPasswordError>;
