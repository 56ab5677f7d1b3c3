/** Every piece of text a person sees in the web client, in one place (one language for now). */
export const t = {
  app: "Nova",
  skip: "Skip to content",
  nav: {
    label: "Main",
    home: "Home",
    compose: "New post",
    notifications: "Notifications",
    profile: "Profile",
    signOut: "Sign out",
    unread: (n: number) => `${n} unread`,
  },
  auth: {
    signInTitle: "Sign in",
    signUpTitle: "Create an account",
    identifier: "Username or email",
    email: "Email",
    username: "Username",
    password: "Password",
    signIn: "Sign in",
    signUp: "Sign up",
    toSignUp: "New here? Create an account",
    toSignIn: "Have an account? Sign in",
    verifyTitle: "Check your email",
    verifyBody: (email: string) => `We sent a link to ${email}. Open it to verify your address, then sign in.`,
  },
  feed: {
    title: "Home",
    empty: "Nothing here yet. Follow people to see their posts.",
    newPosts: (n: number) => (n === 1 ? "1 new post: show it" : `${n} new posts: show them`),
    loading: "Loading…",
    end: "You are all caught up.",
  },
  post: {
    by: (name: string) => `Post by ${name}`,
    like: "Like",
    unlike: "Unlike",
    likes: (n: number) => (n === 1 ? "1 like" : `${n} likes`),
    comments: (n: number) => (n === 1 ? "1 comment" : `${n} comments`),
    bookmark: "Bookmark",
    unbookmark: "Remove bookmark",
    open: "Open post",
    comment: "Add a comment",
    send: "Post comment",
    sensitive: "Sensitive media: show",
    photo: (i: number, n: number) => `Photo ${i} of ${n}`,
    previous: "Previous photo",
    next: "Next photo",
    noAlt: "No description",
    notFound: "This post is not available.",
    commentsTitle: "Comments",
  },
  compose: {
    title: "New post",
    text: "Caption",
    photos: "Add photos",
    alt: (i: number) => `Description of photo ${i} (alt text)`,
    moveUp: (i: number) => `Move photo ${i} earlier`,
    moveDown: (i: number) => `Move photo ${i} later`,
    remove: (i: number) => `Remove photo ${i}`,
    sensitive: "Mark the photos as sensitive",
    submit: "Share",
    uploading: (i: number) => `Uploading photo ${i}`,
    processing: "Processing photos…",
    done: "Posted.",
  },
  profile: {
    posts: (n: number) => (n === 1 ? "1 post" : `${n} posts`),
    followers: (n: number) => (n === 1 ? "1 follower" : `${n} followers`),
    following: (n: number) => `${n} following`,
    follow: "Follow",
    unfollow: "Unfollow",
    block: "Block",
    unblock: "Unblock",
    mute: "Mute",
    unmute: "Unmute",
    followsYou: "Follows you",
    notFound: "This account is not available.",
    grid: "Photos",
    noPhotos: "No photos yet.",
  },
  notifications: {
    title: "Notifications",
    empty: "No notifications yet.",
    markRead: "Mark all as read",
    text: (type: string, who: string, others: number) => {
      const actor = others > 0 ? `${who} and ${others} ${others === 1 ? "other" : "others"}` : who;
      switch (type) {
        case "LIKE":
          return `${actor} liked your post`;
        case "COMMENT":
          return `${actor} commented on your post`;
        case "FOLLOW":
          return `${actor} followed you`;
        case "MENTION":
          return `${actor} mentioned you`;
        case "REPLY":
          return `${actor} replied to your comment`;
        case "MESSAGE":
          return `${actor} sent you a message`;
        default:
          return `${actor}: ${type.toLowerCase().replaceAll("_", " ")}`;
      }
    },
  },
  notFound: "There is nothing at this address.",
  /** Sentences for the gateway's error codes (extensions.code, the catalogue's GraphQL names); a field's name is put in where it helps. */
  errors: {
    BAD_USER_INPUT: (field: string, detail: string) => `Please check the ${field}: ${detail}.`,
    CONFLICT: (field: string) => `That ${field} is already taken.`,
    NOT_FOUND: () => "It is not there any more.",
    UNAUTHENTICATED: () => "Please sign in first.",
    INVALID_CREDENTIALS: () => "That username or password is not right.",
    TOKEN_INVALID: () => "Your session has ended. Please sign in again.",
    FORBIDDEN: () => "You are not allowed to do that.",
    EMAIL_NOT_VERIFIED: () => "Verify your email address first (see the link we sent).",
    RATE_LIMITED: () => "Too many tries. Please wait a moment and try again.",
    LIMIT_REACHED: () => "You have reached the limit for this.",
    MEDIA_TOO_LARGE: () => "This file is too large.",
    MEDIA_TYPE_UNSUPPORTED: () => "This kind of file cannot be posted.",
    MEDIA_TYPE_MISMATCH: () => "This file is not what its name says it is.",
    MEDIA_HEIC_UNSUPPORTED: () => "HEIC photos are not supported yet: export as JPEG first.",
    MEDIA_TOO_MANY_PIXELS: () => "This photo is too large in pixels.",
    MEDIA_CORRUPT: () => "This file looks damaged.",
    MEDIA_NOT_READY: () => "The photos are still processing.",
    network: () => "Nova cannot be reached. Check your connection and try again.",
    fallback: (message: string) => `Something went wrong: ${message}.`,
  },
  fields: {
    email: "email address",
    username: "username",
    password: "password",
    identifier: "username or email",
    text: "text",
    alt: "description",
    attachments: "photos",
    byteSize: "file size",
    contentType: "file type",
  } as Record<string, string>,
} as const;
