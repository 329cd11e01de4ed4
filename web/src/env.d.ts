/// <reference types="vite/client" />

/** True in `vite build`, false in `vite dev` (web/vite.config.ts). */
declare const __REGISTER_SW__: boolean;
