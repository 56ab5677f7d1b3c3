/** GetJwks: the public keys that verify access tokens. */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { GetJwksResponseSchema, type IdentityService } from "../../../gen/nova/identity/v1/identity_pb.ts";
import type { Identity } from "../deps.ts";

export function getJwks(id: Identity): ServiceImpl<typeof IdentityService>["getJwks"] {
  return () => create(GetJwksResponseSchema, { jwksJson: JSON.stringify(id.signer.jwks()) });
}
