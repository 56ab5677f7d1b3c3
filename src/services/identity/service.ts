/**
 * The identity service (nova.identity.v1): registration, login with lockout,
 * rotating refresh tokens with reuse detection, logout, profiles and the
 * public keys that verify access tokens. One RPC per file in rpc/, its SQL in
 * queries.ts, its events in events.ts.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { IdentityService } from "../../gen/nova/identity/v1/identity_pb.ts";
import { type IdentityDeps, identityOf } from "./deps.ts";
import { batchGetUsers } from "./rpc/batchGetUsers.ts";
import { beginTwoFactorEnrollment } from "./rpc/beginTwoFactorEnrollment.ts";
import { cancelAccountDeletion } from "./rpc/cancelAccountDeletion.ts";
import { changePassword } from "./rpc/changePassword.ts";
import { changeUsername } from "./rpc/changeUsername.ts";
import { checkSession } from "./rpc/checkSession.ts";
import { completeTwoFactorLogin } from "./rpc/completeTwoFactorLogin.ts";
import { confirmEmailChange } from "./rpc/confirmEmailChange.ts";
import { confirmTwoFactorEnrollment } from "./rpc/confirmTwoFactorEnrollment.ts";
import { disableTwoFactor } from "./rpc/disableTwoFactor.ts";
import { endSession } from "./rpc/endSession.ts";
import { getJwks } from "./rpc/getJwks.ts";
import { getRoles } from "./rpc/getRoles.ts";
import { getUser } from "./rpc/getUser.ts";
import { getUserByUsername } from "./rpc/getUserByUsername.ts";
import { listSessions } from "./rpc/listSessions.ts";
import { login } from "./rpc/login.ts";
import { logout } from "./rpc/logout.ts";
import { logoutAll } from "./rpc/logoutAll.ts";
import { refreshToken } from "./rpc/refreshToken.ts";
import { register } from "./rpc/register.ts";
import { requestAccountDeletion } from "./rpc/requestAccountDeletion.ts";
import { requestEmailChange } from "./rpc/requestEmailChange.ts";
import { requestPasswordReset } from "./rpc/requestPasswordReset.ts";
import { resendVerification } from "./rpc/resendVerification.ts";
import { resetPassword } from "./rpc/resetPassword.ts";
import { resolveUsernames } from "./rpc/resolveUsernames.ts";
import { scanUsers } from "./rpc/scanUsers.ts";
import { updateProfile } from "./rpc/updateProfile.ts";
import { verifyEmail } from "./rpc/verifyEmail.ts";

export {
  IDENTITY_DEFAULTS,
  type IdentityDeps,
  type IdentityOptions,
  MAX_BATCH,
  type ProfileCache,
} from "./deps.ts";
export { type IdentityTables, loadProfiles, type PublicProfile } from "./queries.ts";

export function createIdentityService(deps: IdentityDeps): ServiceImpl<typeof IdentityService> {
  const id = identityOf(deps);
  return {
    register: register(id),
    login: login(id),
    verifyEmail: verifyEmail(id),
    resendVerification: resendVerification(id),
    requestPasswordReset: requestPasswordReset(id),
    resetPassword: resetPassword(id),
    changePassword: changePassword(id),
    listSessions: listSessions(id),
    endSession: endSession(id),
    beginTwoFactorEnrollment: beginTwoFactorEnrollment(id),
    confirmTwoFactorEnrollment: confirmTwoFactorEnrollment(id),
    disableTwoFactor: disableTwoFactor(id),
    completeTwoFactorLogin: completeTwoFactorLogin(id),
    changeUsername: changeUsername(id),
    requestEmailChange: requestEmailChange(id),
    confirmEmailChange: confirmEmailChange(id),
    requestAccountDeletion: requestAccountDeletion(id),
    cancelAccountDeletion: cancelAccountDeletion(id),
    refreshToken: refreshToken(id),
    logout: logout(id),
    logoutAll: logoutAll(id),
    checkSession: checkSession(id),
    getUser: getUser(id),
    batchGetUsers: batchGetUsers(id),
    resolveUsernames: resolveUsernames(id),
    getUserByUsername: getUserByUsername(id),
    updateProfile: updateProfile(id),
    getJwks: getJwks(id),
    scanUsers: scanUsers(id),
    getRoles: getRoles(id),
  };
}
