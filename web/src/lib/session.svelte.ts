/** The signed-in person: tokens kept in localStorage so a reload stays signed in. */
const KEY = "nova.session";

export interface Session {
  userId: string;
  username: string;
  accessToken: string;
  refreshToken: string;
}

function load(): Session | undefined {
  try {
    const raw = localStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as Session) : undefined;
  } catch {
    return undefined;
  }
}

class SessionStore {
  current = $state<Session | undefined>(load());

  signIn(s: Session): void {
    this.current = s;
    localStorage.setItem(KEY, JSON.stringify(s));
  }

  update(accessToken: string, refreshToken: string): void {
    if (this.current) this.signIn({ ...this.current, accessToken, refreshToken });
  }

  signOut(): void {
    this.current = undefined;
    localStorage.removeItem(KEY);
  }
}

export const session = new SessionStore();
