// Svelte's compiler options for the web client (vite-plugin-svelte reads this file).
import { vitePreprocess } from "@sveltejs/vite-plugin-svelte";

export default { preprocess: vitePreprocess() };
