import { Errors } from "moleculer";
import { ForbiddenUserChangeError } from "./errors";
import type { Role } from "./types";

/** Who is calling, as the gateway puts it in `ctx.meta.user`. Absent for trusted internal calls (REPL, services). */
export interface Actor {
	id: string;
	role: Role;
}

export interface ChangeRequest {
	targetId: string;
	email?: string;
	password?: string;
	role?: Role;
	currentPassword?: string;
}

/**
 * What an authenticated caller may do to a user: act on oneself, or be an
 * admin; only admins change roles. Returns whether the current password must
 * be checked (one's own email or password change).
 * @throws ForbiddenUserChangeError, ValidationError
 */
export function checkChange(actor: Actor | undefined, change: ChangeRequest): boolean {
	if (!actor) return false;
	const self = actor.id === change.targetId;
	if (!self && actor.role !== "admin") throw new ForbiddenUserChangeError("You may only change your own account");
	if (change.role != null && actor.role !== "admin")
		throw new ForbiddenUserChangeError("Only an admin may change a role");
	const sensitive = change.email != null || change.password != null;
	if (!self || !sensitive) return false;
	if (change.currentPassword == null) {
		throw new Errors.ValidationError(
			"currentPassword is required to change your email or password",
			"VALIDATION_ERROR",
			[
				{
					type: "required",
					field: "currentPassword",
					message: "The 'currentPassword' field is required to change your email or password."
				}
			]
		);
	}
	return true;
}

/** Removal: oneself or an admin. */
export function checkRemove(actor: Actor | undefined, targetId: string): void {
	if (actor && actor.id !== targetId && actor.role !== "admin") {
		throw new ForbiddenUserChangeError("You may only delete your own account");
	}
}
