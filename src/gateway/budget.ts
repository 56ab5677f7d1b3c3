/**
 * Backend protection at the gateway: a budget of backend RPCs per request
 * (GATEWAY_CALL_BUDGET, default 12 batch RPCs) and a concurrency limit per
 * backend (GATEWAY_BACKEND_CONCURRENCY in flight, GATEWAY_BACKEND_QUEUE
 * waiting). Both sit in one wrapper around each service client, so every
 * RPC the gateway makes, direct or through a DataLoader batch, is counted
 * exactly once. (Counting in GatewayContext.call would count DataLoader
 * loads, which mostly do not reach a backend.) Deadlines: every RPC already
 * carries one (rpc/client.ts: the default, never past the request's).
 */
import type { DescService } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { NovaError } from "../platform/errors.ts";
import { counter, gauge } from "../platform/observability/metrics.ts";
import { currentCall, remainingMs } from "../platform/rpc/context.ts";

const inflightGauge = gauge("nova_gateway_backend_inflight", "RPCs in flight per backend", ["backend"]);
const shed = counter("nova_gateway_shed_total", "Work the gateway refused to protect itself or a backend", ["reason"]);

export class CallBudget {
  used = 0;
  constructor(readonly max: number) {}
  spend(what: string): void {
    if (++this.used > this.max) {
      if (this.used === this.max + 1) shed.inc({ reason: "call_budget" });
      throw new NovaError(
        "CALL_BUDGET_EXCEEDED",
        `the operation needs more than ${this.max} backend calls (stopped at ${what})`,
      );
    }
  }
}

/** Budgets by the request's call context (the object the RPC layer keeps in AsyncLocalStorage). */
const budgets = new WeakMap<object, CallBudget>();

export function attachBudget(callContext: object, max: number): CallBudget {
  const b = new CallBudget(max);
  budgets.set(callContext, b);
  return b;
}

export class ConcurrencyLimiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly name: string,
    readonly max: number,
    readonly maxQueue: number,
  ) {}

  get inflight(): number {
    return this.active;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await this.wait();
    this.active++;
    inflightGauge.set({ backend: this.name }, this.active);
    try {
      return await fn();
    } finally {
      this.active--;
      inflightGauge.set({ backend: this.name }, this.active);
      this.waiting.shift()?.();
    }
  }

  private wait(): Promise<void> {
    if (this.waiting.length >= this.maxQueue) {
      shed.inc({ reason: `backend_busy:${this.name}` });
      return Promise.reject(new NovaError("UNAVAILABLE", `${this.name} is busy; retry later`));
    }
    const left = remainingMs();
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const go = () => {
        if (timer) clearTimeout(timer);
        resolve();
      };
      this.waiting.push(go);
      if (left !== undefined) {
        timer = setTimeout(
          () => {
            const i = this.waiting.indexOf(go);
            if (i >= 0) this.waiting.splice(i, 1);
            reject(new NovaError("DEADLINE_EXCEEDED", `deadline passed while waiting for ${this.name}`));
          },
          Math.max(0, left),
        );
      }
    });
  }
}

/** A client whose every RPC spends from the request's budget and holds a slot of the backend's limiter. */
export function guardClient<S extends DescService>(client: Client<S>, limiter: ConcurrencyLimiter): Client<S> {
  const inner = client as unknown as Record<string, unknown>;
  return new Proxy(inner, {
    get(target, prop) {
      const fn = target[prop as string];
      if (typeof fn !== "function") return fn;
      return (...args: unknown[]) => {
        const call = currentCall();
        const budget = call ? budgets.get(call) : undefined;
        try {
          budget?.spend(`${limiter.name}.${String(prop)}`);
        } catch (err) {
          return Promise.reject(err);
        }
        return limiter.run(() => fn.apply(target, args) as Promise<unknown>);
      };
    },
  }) as unknown as Client<S>;
}
