/// <reference types="svelte" />
/// <reference types="vite/client" />

/** A persisted operation: its manifest name and hash (and, in development, its text). */
declare module "*.graphql" {
  const operation: { name: string; hash: string; document?: string };
  export default operation;
}
