/**
 * OpenTelemetry. A tracer provider is always installed so that W3C traceparent
 * is propagated and every log line has a trace id; spans are exported over
 * OTLP/HTTP only when OTEL_EXPORTER_OTLP_ENDPOINT is set. Without an exporter
 * a trace this process starts is not recorded (its spans still carry ids, so
 * logs and downstream calls keep the trace id); one a caller sampled still is.
 */
import { type Context, context, propagation, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";

let provider: NodeTracerProvider | undefined;

/**
 * Installs the tracer provider. Without an endpoint it is installed before this returns (no await
 * on that path); the OTLP exporter is imported only with one, as loading it was a tenth of a
 * service's start.
 */
export async function initTracing(
  serviceName: string,
  endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT,
): Promise<void> {
  if (provider) return;
  const spanProcessors: SpanProcessor[] = [];
  if (endpoint) {
    const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-http");
    if (provider) return;
    spanProcessors.push(
      new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint.replace(/\/$/, "")}/v1/traces` })),
    );
  }
  provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": serviceName }),
    spanProcessors,
    sampler: new ParentBasedSampler({ root: endpoint ? new AlwaysOnSampler() : new AlwaysOffSampler() }),
  });
  provider.register();
}

export async function shutdownTracing(): Promise<void> {
  await provider?.shutdown();
  provider = undefined;
}

export const tracer = () => trace.getTracer("nova");

type Carrier = Record<string, string>;

/** The traceparent (and tracestate) of the active context, for headers and events. */
export function injectTrace(ctx: Context = context.active()): Carrier {
  const carrier: Carrier = {};
  propagation.inject(ctx, carrier);
  return carrier;
}

export function extractTrace(get: (key: string) => string | null | undefined): Context {
  const carrier: Carrier = {};
  for (const k of ["traceparent", "tracestate"]) {
    const v = get(k);
    if (v) carrier[k] = v;
  }
  return propagation.extract(context.active(), carrier);
}

/** Runs fn inside a new span (child of parent, or of the active context). */
export async function withSpan<T>(
  name: string,
  kind: SpanKind,
  fn: (span: Span) => Promise<T>,
  parent: Context = context.active(),
): Promise<T> {
  const span = tracer().startSpan(name, { kind }, parent);
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (err) {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw err;
  } finally {
    span.end();
  }
}

export { SpanKind };
