import { crc32, deflateSync } from "node:zlib";

/**
 * The app icon, drawn in code so no binary lives in git: a hub node linked to
 * three others (a small cluster), white on the theme colour. `renderPng`
 * rasterises it with anti-aliasing; `renderSvg` draws the same geometry.
 */

export const THEME_COLOR = "#1d4f91";
const BG: [number, number, number] = [0x1d, 0x4f, 0x91];
const FG: [number, number, number] = [0xff, 0xff, 0xff];

interface Geometry {
	hub: { x: number; y: number; r: number };
	satellites: { x: number; y: number; r: number }[];
	line: number;
}

/** Geometry in a unit square; `scale` shrinks it into the maskable safe zone. */
function geometry(scale: number): Geometry {
	const c = 0.5;
	const orbit = 0.3 * scale;
	const satellites = [-90, 30, 150].map(deg => {
		const a = (deg * Math.PI) / 180;
		return { x: c + orbit * Math.cos(a), y: c + orbit * Math.sin(a), r: 0.085 * scale };
	});
	return { hub: { x: c, y: c, r: 0.11 * scale }, satellites, line: 0.045 * scale };
}

function distToSegment(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
	const dx = bx - ax;
	const dy = by - ay;
	const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)));
	return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

/** Signed distance (unit square) to the white shape: negative inside. */
function shapeDistance(g: Geometry, x: number, y: number): number {
	let d = Math.hypot(x - g.hub.x, y - g.hub.y) - g.hub.r;
	for (const s of g.satellites) {
		d = Math.min(d, Math.hypot(x - s.x, y - s.y) - s.r);
		d = Math.min(d, distToSegment(x, y, g.hub.x, g.hub.y, s.x, s.y) - g.line / 2);
	}
	return d;
}

/** Signed distance to a rounded square filling the unit square. */
function roundedSquareDistance(x: number, y: number, radius: number): number {
	const qx = Math.abs(x - 0.5) - (0.5 - radius);
	const qy = Math.abs(y - 0.5) - (0.5 - radius);
	return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - radius;
}

function chunk(type: string, data: Buffer): Buffer {
	const length = Buffer.alloc(4);
	length.writeUInt32BE(data.length);
	const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
	const crc = Buffer.alloc(4);
	crc.writeUInt32BE(crc32(body) >>> 0);
	return Buffer.concat([length, body, crc]);
}

/**
 * A square RGBA PNG of the icon. `maskable` fills the whole square (the
 * platform cuts its own shape) and keeps the drawing inside the 80 % safe zone.
 */
export function renderPng(size: number, { maskable = false } = {}): Buffer {
	const g = geometry(maskable ? 0.8 : 1);
	const px = 1 / size;
	const raw = Buffer.alloc((size * 4 + 1) * size);
	for (let row = 0; row < size; row++) {
		const offset = row * (size * 4 + 1);
		raw[offset] = 0; // filter: none
		for (let col = 0; col < size; col++) {
			const x = (col + 0.5) / size;
			const y = (row + 0.5) / size;
			const bgAlpha = maskable ? 1 : clamp(0.5 - roundedSquareDistance(x, y, 0.18) / px);
			const fg = clamp(0.5 - shapeDistance(g, x, y) / px);
			const i = offset + 1 + col * 4;
			for (let k = 0; k < 3; k++) raw[i + k] = Math.round(BG[k] * (1 - fg) + FG[k] * fg);
			raw[i + 3] = Math.round(255 * Math.max(bgAlpha, fg));
		}
	}
	const header = Buffer.alloc(13);
	header.writeUInt32BE(size, 0);
	header.writeUInt32BE(size, 4);
	header[8] = 8; // bit depth
	header[9] = 6; // RGBA
	return Buffer.concat([
		Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
		chunk("IHDR", header),
		chunk("IDAT", deflateSync(raw, { level: 9 })),
		chunk("IEND", Buffer.alloc(0))
	]);
}

function clamp(v: number): number {
	return Math.max(0, Math.min(1, v));
}

/** The same icon as SVG (favicon, and the `any`-size manifest icon). */
export function renderSvg(): string {
	const g = geometry(1);
	const n = (v: number) => Math.round(v * 1000) / 10;
	const lines = g.satellites
		.map(s => `<line x1="${n(g.hub.x)}" y1="${n(g.hub.y)}" x2="${n(s.x)}" y2="${n(s.y)}"/>`)
		.join("");
	const dots = [g.hub, ...g.satellites].map(c => `<circle cx="${n(c.x)}" cy="${n(c.y)}" r="${n(c.r)}"/>`).join("");
	return (
		`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">` +
		`<rect width="100" height="100" rx="18" fill="${THEME_COLOR}"/>` +
		`<g stroke="#fff" stroke-width="${n(g.line)}">${lines}</g><g fill="#fff">${dots}</g></svg>\n`
	);
}
