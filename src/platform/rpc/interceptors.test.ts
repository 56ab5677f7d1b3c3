/**
 * The RPC interceptors over the in-process transport: retries only for
 * idempotent methods, the circuit breaker, deadline / claims / trace
 * propagation to a downstream call, and error mapping.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { trace } from "@opentelemetry/api";
import {
  CheckSessionResponseSchema,
  GetJwksResponseSchema,
  GetUserResponseSchema,
  IdentityService,
  RegisterResponseSchema,
} from "../../gen/nova/identity/v1/identity_pb.ts";
import { fromError, invalid } from "../errors.ts";
import { initTracing } from "../observability/tracing.ts";
import { createTransport, serviceClient } from "./client.ts";
import { currentCall, parseTimeoutHeader, runWithCall } from "./context.ts";

await initTracing("test");

function clientFor(impl: Partial<ServiceImpl<typeof IdentityService>>, target = "identity") {
  const transport = createTransport({
    caller: "gateway",
    target,
    peer: { kind: "local", services: [{ service: IdentityService, impl }] },
  });
  return serviceClient(IdentityService, transport, 2_000);
}

test("idempotent methods are retried on UNAVAILABLE (max 3 attempts); others are not", async () => {
  let jwksCalls = 0;
  let registerCalls = 0;
  const c = clientFor(
    {
      getJwks() {
        jwksCalls++;
        if (jwksCalls < 3) throw new ConnectError("flaky", Code.Unavailable);
        return create(GetJwksResponseSchema, { jwksJson: "{}" });
      },
      register() {
        registerCalls++;
        throw new ConnectError("flaky", Code.Unavailable);
      },
    },
    "retry-target",
  );
  assert.equal((await c.getJwks({})).jwksJson, "{}");
  assert.equal(jwksCalls, 3);
  await assert.rejects(c.register({}), (e) => e instanceof ConnectError && e.code === Code.Unavailable);
  assert.equal(registerCalls, 1, "a non-idempotent call is never repeated");
});

test("validation errors are not retried and keep their code and field", async () => {
  let calls = 0;
  const c = clientFor({
    getUser() {
      calls++;
      throw invalid("id", "is not a valid id");
    },
  });
  const err = await c.getUser({ id: "x" }).catch((e) => e);
  assert.equal(calls, 1);
  const nova = fromError(err);
  assert.equal(nova.code, "VALIDATION_FAILED");
  assert.equal(nova.field, "id");
  assert.equal(nova.message, "id: is not a valid id");
});

test("unexpected handler errors become INTERNAL without leaking their text", async () => {
  const c = clientFor({
    register() {
      throw new Error("secret database detail");
    },
  });
  const err = await c.register({}).catch((e) => e);
  assert.ok(err instanceof ConnectError);
  assert.equal(err.code, Code.Internal);
  assert.doesNotMatch(err.message, /secret/);
});

test("the breaker opens after 5 consecutive failures and fails fast", async () => {
  let calls = 0;
  const c = clientFor(
    {
      register() {
        calls++;
        throw new ConnectError("down", Code.Unavailable);
      },
    },
    "breaker-target",
  );
  for (let i = 0; i < 5; i++) await c.register({}).catch(() => {});
  assert.equal(calls, 5);
  const err = await c.register({}).catch((e) => e);
  assert.equal(calls, 5, "the open breaker did not call the backend");
  assert.match(String(err.message), /circuit open/);
  assert.equal(err.code, Code.Unavailable);
});

test("deadline, user claims and trace context flow to downstream calls", async () => {
  let seen: { timeout?: number; user?: string; traceId?: string; caller?: string } = {};
  const downstream = clientFor({
    checkSession(_req, ctx) {
      seen = {
        timeout: parseTimeoutHeader(ctx.requestHeader),
        user: currentCall()?.user?.userId,
        traceId: trace.getActiveSpan()?.spanContext().traceId,
        caller: currentCall()?.caller,
      };
      return create(CheckSessionResponseSchema, { active: true });
    },
  });
  let outerTrace: string | undefined;
  const upstream = clientFor({
    async getUser() {
      outerTrace = trace.getActiveSpan()?.spanContext().traceId;
      await new Promise((r) => setTimeout(r, 50));
      await downstream.checkSession({ sessionId: "s" });
      return create(GetUserResponseSchema, {});
    },
  });
  await runWithCall({ user: { userId: "u1", sessionId: "s1" }, deadline: Date.now() + 400 }, () =>
    upstream.getUser({ id: "x" }),
  );
  assert.ok(seen.timeout !== undefined && seen.timeout <= 350, `downstream deadline ${seen.timeout} ms`);
  assert.equal(seen.user, "u1");
  assert.equal(seen.caller, "gateway");
  assert.ok(outerTrace && seen.traceId === outerTrace, "one trace across the hop");
});

test("an expired deadline fails before the call is made", async () => {
  let calls = 0;
  const c = clientFor({
    register() {
      calls++;
      return create(RegisterResponseSchema, {});
    },
  });
  await assert.rejects(
    runWithCall({ deadline: Date.now() - 1 }, () => c.register({})),
    (e) => fromError(e).code === "DEADLINE_EXCEEDED",
  );
  assert.equal(calls, 0);
});

test("in process, a handler slower than the deadline fails the call with DEADLINE_EXCEEDED and sees its signal abort", async () => {
  let aborted: Promise<void> | undefined;
  const c = clientFor({
    async register(_req, ctx) {
      aborted = new Promise((r) => ctx.signal.addEventListener("abort", () => r(), { once: true }));
      await new Promise((r) => setTimeout(r, 1_000));
      return create(RegisterResponseSchema, {});
    },
  });
  const t0 = Date.now();
  await assert.rejects(c.register({}, { timeoutMs: 60 }), (e) => fromError(e).code === "DEADLINE_EXCEEDED");
  assert.ok(Date.now() - t0 < 500, "the caller did not wait for the handler");
  await aborted;
});

test("in process, a request gets its defaults, a method without an implementation is UNIMPLEMENTED", async () => {
  let seen: unknown;
  const c = clientFor({
    getUser(req) {
      seen = { id: req.id, typeName: req.$typeName };
      return { user: { id: "u", username: "ann" } };
    },
  });
  const res = await c.getUser({});
  assert.deepEqual(seen, { id: "", typeName: "nova.identity.v1.GetUserRequest" });
  assert.equal(res.$typeName, "nova.identity.v1.GetUserResponse", "a plain reply object becomes the message");
  assert.equal(res.user?.username, "ann");
  await assert.rejects(c.getJwks({}), (e) => e instanceof ConnectError && e.code === Code.Unimplemented);
});

test("in process, the caller's signal cancels the call (CANCELED) and aborts the handler's signal", async () => {
  let handlerSaw: Promise<void> | undefined;
  const c = clientFor({
    async register(_req, ctx) {
      handlerSaw = new Promise((r) => ctx.signal.addEventListener("abort", () => r(), { once: true }));
      await new Promise((r) => setTimeout(r, 1_000));
      return create(RegisterResponseSchema, {});
    },
  });
  const caller = new AbortController();
  setTimeout(() => caller.abort(), 50);
  const t0 = Date.now();
  await assert.rejects(
    c.register({}, { signal: caller.signal }),
    (e) => e instanceof ConnectError && e.code === Code.Canceled,
  );
  assert.ok(Date.now() - t0 < 500);
  await handlerSaw;
});
