/**
 * Live state shared by screens: the unread count and the notifications pushed since the list was
 * loaded; the conversations with messages the viewer has not read.
 */
export interface NotificationItem {
  id: string;
  type: string;
  actorCount: number;
  read: boolean;
  updatedAt: string;
  conversationId: string | null;
  actors: { id: string; username: string }[];
  post: { id: string; text: string } | null;
  comment?: { id: string; text: string } | null;
  moderationAction?: { id: string; action: string; reason: string; until: string | null } | null;
}

class Live {
  unread = $state(0);
  /** Pushed notifications, newest first; a regrouped one replaces its older self (same id). */
  pushed = $state<NotificationItem[]>([]);
  unreadConversations = $state<string[]>([]);

  conversationUnread(id: string, unread: boolean): void {
    const others = this.unreadConversations.filter((c) => c !== id);
    this.unreadConversations = unread ? [...others, id] : others;
  }

  received(n: unknown): void {
    const item = n as NotificationItem;
    const had = this.pushed.some((p) => p.id === item.id);
    this.pushed = [item, ...this.pushed.filter((p) => p.id !== item.id)];
    if (!had && !item.read) this.unread += 1;
  }
}

export const live = new Live();
