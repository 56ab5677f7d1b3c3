import assert from "node:assert/strict";
import { test } from "node:test";
import { context, trace } from "@opentelemetry/api";
import { createLogger } from "./logger.ts";
import { initTracing, tracer } from "./tracing.ts";

test("secrets are redacted and the active trace id is on every line", () => {
  initTracing("test");
  const lines: string[] = [];
  const log = createLogger({ level: "info", destination: { write: (l: string) => lines.push(l) } });
  const span = tracer().startSpan("t");
  context.with(trace.setSpan(context.active(), span), () => {
    log.info(
      {
        password: "hunter2hunter2",
        input: { password: "p4ssw0rd!!", refreshToken: "rt-123" },
        authorization: "Bearer abc",
      },
      "x",
    );
  });
  span.end();
  const line = lines[0] ?? "";
  assert.doesNotMatch(line, /hunter2|p4ssw0rd|rt-123|Bearer abc/);
  assert.match(line, /"trace_id":"[0-9a-f]{32}"/);
  assert.equal(JSON.parse(line).trace_id, span.spanContext().traceId);
});
