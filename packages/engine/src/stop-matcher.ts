/**
 * Holds back generated text that could be the start of a stop string, so a stop string is never emitted and
 * text before it is never delayed more than necessary.
 */
export class StopMatcher {
  private held = '';
  private readonly longest: number;

  constructor(private readonly stops: readonly string[]) {
    for (const s of stops) {
      if (typeof s !== 'string' || s.length === 0)
        throw new RangeError('stop strings must be non-empty strings');
    }
    this.longest = Math.max(0, ...stops.map((s) => s.length));
  }

  /**
   * Feeds new text; returns what is safe to emit and whether a stop string was found. With `matchStops`
   * false (tokens before `minTokens`) a stop string in the text does not stop it, but a possible start of one
   * at its end is still held back: a stop string that completes later is found, like vLLM, which checks the
   * new text plus the last (stop length − 1) characters before it once min_tokens are out.
   */
  push(text: string, matchStops = true): { text: string; stopped: boolean } {
    if (this.stops.length === 0) return { text, stopped: false };
    this.held += text;
    let cut = -1;
    if (matchStops) {
      for (const s of this.stops) {
        const i = this.held.indexOf(s);
        if (i >= 0 && (cut < 0 || i < cut)) cut = i;
      }
    }
    if (cut >= 0) {
      const out = this.held.slice(0, cut);
      this.held = '';
      return { text: out, stopped: true };
    }
    // keep the longest suffix that is a prefix of some stop string
    let keep = 0;
    for (let k = Math.min(this.longest - 1, this.held.length); k > 0; k--) {
      const suffix = this.held.slice(this.held.length - k);
      if (this.stops.some((s) => s.startsWith(suffix))) {
        keep = k;
        break;
      }
    }
    const out = this.held.slice(0, this.held.length - keep);
    this.held = this.held.slice(this.held.length - keep);
    return { text: out, stopped: false };
  }

  /** The end of generation: whatever is held is plain text. */
  flush(text = '', matchStops = true): string {
    const r = this.push(text, matchStops);
    const out = r.text + (r.stopped ? '' : this.held);
    this.held = '';
    return out;
  }
}
