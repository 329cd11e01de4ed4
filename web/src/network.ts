import { byId } from "./dom";

/**
 * The offline state, said in words at the top of every screen: the app shell
 * comes from the service worker's cache, data needs the network, and what is
 * shown may be the last saved copy.
 */

let staleData = false;

function update(): void {
	const banner = byId("network");
	const offline = !navigator.onLine;
	document.documentElement.classList.toggle("is-offline", offline);
	if (offline) {
		banner.textContent = staleData
			? "You are offline. Showing the last saved data; changes can't be saved until you reconnect."
			: "You are offline. The app works, but loading and saving data needs a connection.";
		banner.hidden = false;
	} else if (staleData) {
		banner.textContent = "The API could not be reached. Showing the last saved data.";
		banner.hidden = false;
	} else {
		banner.hidden = true;
		banner.textContent = "";
	}
}

/** Whether the data on screen is a cached copy (set after each API read). */
export function setStaleData(stale: boolean): void {
	staleData = stale;
	update();
}

export function isOffline(): boolean {
	return !navigator.onLine;
}

export function watchNetwork(): void {
	window.addEventListener("online", () => {
		staleData = false;
		update();
	});
	window.addEventListener("offline", update);
	update();
}
