import { buildWeb } from "../support/web-build";

/**
 * Builds the PWA (dist/web) once before the browser tests; the root global
 * setup has already built the server side.
 */
export default function browserGlobalSetup(): void {
	buildWeb();
}
