import assert from "node:assert/strict";
import { test } from "node:test";
import { renderMail } from "./templates.ts";

test("values are HTML-escaped in the HTML body only, and a subject stays one line", () => {
  const t = {
    subject: "Hi {{name}}",
    text: "Hi {{name}}, see {{link}}",
    html: '<p>Hi {{name}}</p><a href="{{link}}">x</a>',
  };
  const m = renderMail(t, { name: `<b>"Ada"</b> & co\r\nBcc: x`, link: "https://n.test/v?token=a&b=c" });
  assert.equal(m.subject, `Hi <b>"Ada"</b> & co Bcc: x`);
  assert.equal(m.text, `Hi <b>"Ada"</b> & co\r\nBcc: x, see https://n.test/v?token=a&b=c`);
  assert.equal(
    m.html,
    '<p>Hi &lt;b&gt;&quot;Ada&quot;&lt;/b&gt; &amp; co\r\nBcc: x</p><a href="https://n.test/v?token=a&amp;b=c">x</a>',
  );
});

test("a placeholder without a value is an error, not an empty string", () => {
  assert.throws(() => renderMail({ subject: "{{a}}", text: "", html: "" }, {}), /no value for \{\{a\}\}/);
});
