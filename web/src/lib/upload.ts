/** One photo's way in (a post's public one, or a message's private one): createUpload -> PUT the bytes (with progress) -> completeUpload -> media READY. */
import CompleteUpload from "$ops/CompleteUpload.graphql";
import CreateUpload from "$ops/CreateUpload.graphql";
import Media from "$ops/Media.graphql";
import { gql } from "./api.ts";
import { ApiError } from "./errors.ts";
import { session } from "./session.svelte.ts";

interface Target {
  url: string;
  method: string;
  headers: { name: string; value: string }[];
}

/** XHR rather than fetch: only XHR reports upload progress. */
function put(file: File, target: Target, onProgress: (fraction: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(target.method, new URL(target.url, location.href).href);
    for (const h of target.headers) xhr.setRequestHeader(h.name, h.value);
    // The gateway's own upload route (the embedded store) wants the bearer; a presigned S3 URL does not.
    if (new URL(target.url, location.href).origin === location.origin && session.current) {
      xhr.setRequestHeader("authorization", `Bearer ${session.current.accessToken}`);
    }
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve();
      try {
        const json = JSON.parse(xhr.responseText) as { errors?: ApiError["errors"] };
        if (json.errors) return reject(new ApiError(json.errors));
      } catch {}
      reject(new ApiError([{ message: `upload failed (${xhr.status})` }]));
    };
    xhr.onerror = () => reject(new Error("network"));
    xhr.send(file);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves with the media id once it is READY; a REJECTED photo throws its coded reason. */
export async function uploadPhoto(
  file: File,
  onProgress: (fraction: number) => void,
  purpose: "POST" | "MESSAGE" = "POST",
): Promise<string> {
  const created = await gql<{ createUpload: { media: { id: string }; upload: Target } }>(CreateUpload, {
    input: { kind: "IMAGE", purpose, contentType: file.type, byteSize: file.size },
  });
  const id = created.createUpload.media.id;
  await put(file, created.createUpload.upload, onProgress);
  await gql(CompleteUpload, { id });
  for (let wait = 200; ; wait = Math.min(wait * 1.5, 2_000)) {
    const { media } = await gql<{
      media: { state: string; rejectReason: string | null; rejectField: string | null } | null;
    }>(Media, { id });
    if (media?.state === "READY") return id;
    if (media?.state === "REJECTED") {
      throw new ApiError([
        { message: media.rejectReason ?? "rejected", extensions: { code: media.rejectReason ?? "MEDIA_CORRUPT" } },
      ]);
    }
    await sleep(wait);
  }
}
