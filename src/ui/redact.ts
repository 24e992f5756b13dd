/**
 * Process-wide redaction of known secret values. Every output path (stdout, stderr,
 * error messages, JSON events) passes its text through `redact` before writing.
 */
/**
 * What is redacted: every registered value and each of its lines, of 4 characters or more (shorter
 * ones would blot out ordinary text, and are too short to be secrets ops makes). Output is redacted a
 * whole line at a time (streams are cut into lines first), so a value split across two chunks of a
 * stream is still caught; text is redacted before it is cut to a head or tail, never after.
 */
const MIN_SECRET_LENGTH = 4;
const REPLACEMENT = '<redacted>';

export class Redactor {
  private readonly secrets = new Set<string>();
  private ordered: string[] = [];

  /** Registers a plaintext secret; every line of a multi-line secret is registered too. */
  add(secret: string): void {
    const lines = [secret, ...secret.split(/\r?\n/)].map((s) => s.trim());
    // a secret inside a URL (DATABASE_URL) is percent-encoded: that form is redacted too
    const candidates = [...lines, ...lines.map(encodeURIComponent)];
    let added = false;
    for (const c of candidates) {
      if (c.length >= MIN_SECRET_LENGTH && !this.secrets.has(c)) {
        this.secrets.add(c);
        added = true;
      }
    }
    // Longest first, so a secret that contains another is replaced whole.
    if (added) this.ordered = [...this.secrets].sort((a, b) => b.length - a.length);
  }

  get size(): number {
    return this.secrets.size;
  }

  redact(text: string): string {
    if (this.ordered.length === 0 || text.length === 0) return text;
    let out = text;
    for (const s of this.ordered) {
      if (out.includes(s)) out = out.split(s).join(REPLACEMENT);
    }
    return out;
  }

  /** The last `max` characters of the redacted text, from the start of a line when it had to be cut. */
  tail(text: string, max: number): string {
    const r = this.redact(text);
    if (r.length <= max) return r;
    const cut = r.slice(-max);
    const nl = cut.indexOf('\n');
    return nl >= 0 ? cut.slice(nl + 1) : cut;
  }

  /** The first `max` characters of the redacted text. */
  head(text: string, max: number): string {
    return this.redact(text).slice(0, max);
  }
}

export const redactor = new Redactor();
