import assert from "node:assert/strict";
import { test } from "node:test";
import { context, trace } from "@opentelemetry/api";
import { createLogger, logFormat } from "./logger.ts";
import { extractTrace, initTracing, tracer } from "./tracing.ts";

test("secrets are redacted and the active trace id is on every line", async () => {
  await initTracing("test");
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

test("without an exporter a new trace is not recorded but keeps its ids; a caller's sampled trace is recorded", async () => {
  await initTracing("test");
  const root = tracer().startSpan("root");
  assert.equal(root.isRecording(), false);
  assert.match(root.spanContext().traceId, /^[0-9a-f]{32}$/);
  assert.notEqual(root.spanContext().traceId, "0".repeat(32));
  const parent = extractTrace((k) =>
    k === "traceparent" ? "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" : undefined,
  );
  const child = tracer().startSpan("child", {}, parent);
  assert.equal(child.isRecording(), true, "sampled upstream: recorded here too");
  assert.equal(child.spanContext().traceId, "0af7651916cd43dd8448eb211c80319c");
  root.end();
  child.end();
});

test("logs are readable at a terminal in development, JSON lines when piped or in production", () => {
  assert.equal(logFormat({ isTTY: true, nodeEnv: undefined }), "pretty");
  assert.equal(logFormat({ isTTY: true, nodeEnv: "development" }), "pretty");
  assert.equal(logFormat({ isTTY: true, nodeEnv: "production" }), "json");
  assert.equal(logFormat({ isTTY: false, nodeEnv: "development" }), "json");
  assert.equal(logFormat({ isTTY: undefined, nodeEnv: undefined }), "json");
  assert.equal(logFormat({ isTTY: false, nodeEnv: "production" }), "json");
});
