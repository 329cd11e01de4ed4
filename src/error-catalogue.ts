/**
 * One entry of a service's error catalogue (`GATEWAY_ERRORS` in
 * services/api/errors.ts, `USERS_ERRORS` in services/users/errors.ts), keyed
 * by the error `type`: the HTTP status it answers with (also its `code`), the
 * error's `name` and its default message.
 */
export interface ErrorEntry {
	status: number;
	name: string;
	message: string;
}
