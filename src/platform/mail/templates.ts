/**
 * Mail templates: a subject, a text body and an HTML body with `{{name}}`
 * placeholders. Values are inserted as they are in the subject and the text,
 * and HTML-escaped in the HTML (user text such as a display name can never
 * become markup). A placeholder without a value is a programming error.
 */
export interface MailTemplate {
  subject: string;
  text: string;
  html: string;
}

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

const PLACEHOLDER = /\{\{\s*([a-zA-Z][a-zA-Z0-9_]*)\s*\}\}/g;

export function escapeHtml(s: string): string {
  return s
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

function fill(template: string, vars: Record<string, string>, encode: (s: string) => string): string {
  return template.replace(PLACEHOLDER, (_m, name: string) => {
    const v = vars[name];
    if (v === undefined) throw new Error(`mail template: no value for {{${name}}}`);
    return encode(v);
  });
}

/** The mail with its placeholders filled in (HTML-escaped in the HTML body; no line breaks in the subject). */
export function renderMail(t: MailTemplate, vars: Record<string, string>): RenderedMail {
  return {
    subject: fill(t.subject, vars, (s) => s.replace(/[\r\n]+/g, " ")),
    text: fill(t.text, vars, (s) => s),
    html: fill(t.html, vars, escapeHtml),
  };
}
