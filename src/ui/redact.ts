/**
 * Process-wide redaction of known secret values. Every output path (stdout, stderr,
 * error messages, JSON events) passes its text through `redact` before writing.
 */
const MIN_SECRET_LENGTH = 4;
const REPLACEMENT = '<redacted>';

export class Redactor {
  private readonly secrets = new Set<string>();
  private ordered: string[] = [];

  /** Registers a plaintext secret; every line of a multi-line secret is registered too. */
  add(secret: string): void {
    const candidates = [secret, ...secret.split(/\r?\n/)].map((s) => s.trim());
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
}

export const redactor = new Redactor();
