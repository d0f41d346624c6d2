// Escaping of attacker-controlled text, one function per medium. Raw strings are stored; these run only
// when a payload is rendered. Every function bounds its input first.

// C0/C1 controls and the bidi overrides/isolates that can make text read differently than it is.
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]+/g;

/** One line of bounded, control-free text. */
export function clean(s: string | undefined | null, max = 500): string {
  if (s === undefined || s === null) return '';
  let t = String(s);
  if (t.length > max * 4) t = t.slice(0, max * 4);
  t = t.replace(CONTROLS, ' ');
  if (t.length > max) t = `${t.slice(0, max - 1)}…`;
  return t;
}

// Every ASCII punctuation character CommonMark lets us backslash-escape.
const MD_PUNCT = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;

/**
 * Adaptive Card TextBlock markdown (Teams): every markdown punctuation character is backslash-escaped, so
 * `*x*`, `[a](b)`, `<img>` and bare URLs (`https\:\/\/…`) render as the literal characters, never as markup
 * or links.
 */
export function escapeAdaptiveMarkdown(s: string | undefined | null, max = 500): string {
  return clean(s, max).replace(MD_PUNCT, (c) => `\\${c}`);
}

/**
 * Slack text: `&`, `<`, `>` as entities (so `<!here>` or `<https://evil|click>` stay text), broadcast
 * mentions broken with a zero-width space, and bare URLs defused so they don't auto-link.
 */
export function escapeSlack(s: string | undefined | null, max = 500): string {
  return clean(s, max)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/@(channel|here|everyone)\b/gi, '@\u200b$1')
    .replace(/:\/\//g, ':\u200b//');
}

/** HTML text and attribute values. */
export function escapeHtml(s: string | undefined | null, max = 2000): string {
  return clean(s, max)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** An e-mail header value (subject): one line, bounded. */
export function headerText(s: string | undefined | null, max = 200): string {
  return clean(s, max);
}
