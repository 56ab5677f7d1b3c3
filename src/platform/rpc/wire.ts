/** What both ends of a gRPC connection agree on (client.ts and server.ts): message size and compression. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
export const COMPRESS_MIN_BYTES = 1024;
