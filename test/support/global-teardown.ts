export default async function globalTeardown(): Promise<void> {
	await globalThis.__RNCP_REDIS__?.destroy();
}
