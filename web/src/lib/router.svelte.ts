/** Client-side routes over the History API; the gateway answers index.html for each of these paths. */
export type Route =
  | { name: "feed" }
  | { name: "signin" }
  | { name: "signup" }
  | { name: "compose" }
  | { name: "post"; id: string }
  | { name: "profile"; username: string }
  | { name: "notifications" }
  | { name: "notFound" };

export function parse(path: string): Route {
  if (path === "/") return { name: "feed" };
  if (path === "/signin") return { name: "signin" };
  if (path === "/signup") return { name: "signup" };
  if (path === "/compose") return { name: "compose" };
  if (path === "/notifications") return { name: "notifications" };
  const post = /^\/p\/([^/]+)$/.exec(path);
  if (post?.[1]) return { name: "post", id: decodeURIComponent(post[1]) };
  const user = /^\/u\/([^/]+)$/.exec(path);
  if (user?.[1]) return { name: "profile", username: decodeURIComponent(user[1]) };
  return { name: "notFound" };
}

class Router {
  route = $state<Route>(parse(location.pathname));

  constructor() {
    addEventListener("popstate", () => {
      this.route = parse(location.pathname);
    });
  }

  go(path: string): void {
    if (path !== location.pathname) history.pushState(null, "", path);
    this.route = parse(path);
    scrollTo(0, 0);
  }
}

export const router = new Router();

/** A click on an in-app link navigates without a reload (modified clicks keep the browser's behaviour). */
export function link(node: HTMLAnchorElement) {
  const onClick = (e: MouseEvent) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    router.go(node.pathname);
  };
  node.addEventListener("click", onClick);
  return { destroy: () => node.removeEventListener("click", onClick) };
}
