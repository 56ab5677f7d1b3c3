/** Client-side routes over the History API; the gateway answers index.html for each of these paths. */
export type Route =
  | { name: "feed" }
  | { name: "signin" }
  | { name: "signup" }
  | { name: "forgot" }
  | { name: "reset"; token: string }
  | { name: "verify"; token: string }
  | { name: "confirmEmail"; token: string }
  | { name: "compose" }
  | { name: "post"; id: string }
  | { name: "profile"; username: string }
  | { name: "notifications" }
  | { name: "messages" }
  | { name: "conversation"; id: string }
  | { name: "explore" }
  | { name: "tag"; tag: string }
  | { name: "search"; q: string }
  | { name: "settings" }
  | { name: "moderation" }
  | { name: "notFound" };

/** Routes a signed-out person may open (the mail links among them). */
export const OPEN_ROUTES: Route["name"][] = ["signin", "signup", "forgot", "reset", "verify", "confirmEmail"];

const FIXED: Record<string, Route> = {
  "/": { name: "feed" },
  "/signin": { name: "signin" },
  "/signup": { name: "signup" },
  "/forgot-password": { name: "forgot" },
  "/compose": { name: "compose" },
  "/notifications": { name: "notifications" },
  "/messages": { name: "messages" },
  "/explore": { name: "explore" },
  "/settings": { name: "settings" },
  "/moderation": { name: "moderation" },
};

/** `url` is a path with an optional query (`/search?q=cat`). */
export function parse(url: string): Route {
  const { pathname: path, searchParams: query } = new URL(url, "http://x");
  const fixed = FIXED[path];
  if (fixed) return fixed;
  if (path === "/reset-password") return { name: "reset", token: query.get("token") ?? "" };
  if (path === "/verify-email") return { name: "verify", token: query.get("token") ?? "" };
  if (path === "/confirm-email") return { name: "confirmEmail", token: query.get("token") ?? "" };
  if (path === "/search") return { name: "search", q: query.get("q") ?? "" };
  const m = /^\/(p|u|messages|tag)\/([^/]+)$/.exec(path);
  const value = m?.[2] ? decodeURIComponent(m[2]) : "";
  if (m?.[1] === "p") return { name: "post", id: value };
  if (m?.[1] === "u") return { name: "profile", username: value };
  if (m?.[1] === "messages") return { name: "conversation", id: value };
  if (m?.[1] === "tag") return { name: "tag", tag: value };
  return { name: "notFound" };
}

const here = () => location.pathname + location.search;

class Router {
  route = $state<Route>(parse(here()));
  /** Counts arrivals on a screen (not a replaced address, as search's query): focus moves on each. */
  visits = $state(0);

  constructor() {
    addEventListener("popstate", () => {
      this.route = parse(here());
      this.visits += 1;
    });
  }

  go(url: string, opts: { replace?: boolean } = {}): void {
    if (url !== here()) history[opts.replace ? "replaceState" : "pushState"](null, "", url);
    this.route = parse(url);
    if (opts.replace) return;
    this.visits += 1;
    scrollTo(0, 0);
  }
}

export const router = new Router();

/** A click on an in-app link navigates without a reload (modified clicks keep the browser's behaviour). */
export function link(node: HTMLAnchorElement) {
  const onClick = (e: MouseEvent) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    router.go(node.pathname + node.search);
  };
  node.addEventListener("click", onClick);
  return { destroy: () => node.removeEventListener("click", onClick) };
}
