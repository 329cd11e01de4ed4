import type { PublicUser } from "../../services/users/types";

/** The signed-in user and their token, kept across reloads (an installed app is expected to remember). */
export interface Session {
	token: string;
	/** Epoch ms after which the token is refused. */
	expiresAt: number;
	user: PublicUser;
}

const KEY = "rncp.session";

type Listener = (session: Session | null) => void;
const listeners = new Set<Listener>();

function read(): Session | null {
	try {
		const raw = localStorage.getItem(KEY);
		if (!raw) return null;
		const session = JSON.parse(raw) as Session;
		return session.expiresAt > Date.now() ? session : null;
	} catch {
		return null;
	}
}

let current: Session | null = read();

export function getSession(): Session | null {
	if (current && current.expiresAt <= Date.now()) setSession(null);
	return current;
}

export function setSession(session: Session | null): void {
	current = session;
	if (session) localStorage.setItem(KEY, JSON.stringify(session));
	else localStorage.removeItem(KEY);
	for (const listener of listeners) listener(session);
}

export function updateSessionUser(user: PublicUser): void {
	if (current && current.user.id === user.id) setSession({ ...current, user });
}

export function onSessionChange(listener: Listener): void {
	listeners.add(listener);
}

export function isAdmin(): boolean {
	return getSession()?.user.role === "admin";
}

/** Whether the signed-in user may edit or delete `id`: themselves, or anyone when admin. */
export function canManage(id: string): boolean {
	const session = getSession();
	return !!session && (session.user.id === id || session.user.role === "admin");
}
