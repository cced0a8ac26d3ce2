/**
 * A bounded cache of results by field value: the prefilter's scan results and the outcomes of
 * regular expressions. Windows telemetry repeats most values (images, command lines of services,
 * hashes of common binaries), so a value seen recently is looked up instead of scanned or matched
 * again. Values unique to one event (process GUIDs, times) only pass through: the cache keeps two
 * generations and drops the older one when the newer is full, so memory stays within twice the
 * limits however many distinct values arrive.
 */

/** Limits of one generation of a ValueMemo. */
export interface ValueMemoLimits {
  maxEntries: number;
  /** Sum of the lengths of the cached values, in UTF-16 code units. */
  maxChars: number;
}

/**
 * Values shorter than this are scanned every time: a scan of a few code units costs about as much
 * as hashing the value for the lookup, and short values (ids, flags) are often unique. Measured
 * on the Windows mix of bench/sigma-corpus.ts, 8 gave a lower cost per event than 4, 16 or 40.
 */
export const MIN_MEMO_LENGTH = 8;

/**
 * Values longer than this are scanned every time, because a long value is likely to be unique (an
 * encoded script on a command line). Far above this length, V8 hashes a string by its length alone
 * (`GetTrivialHash` in deps/v8/src/strings/string-hasher-inl.h of Node's source). Such values
 * of one length would then share a hash bucket.
 */
export const MAX_MEMO_LENGTH = 4_096;

/** Shared result for the common case of a value that yields nothing. It is frozen, so no caller changes it. */
export const NO_RESULTS: readonly number[] = Object.freeze([]);

/** Returns true when a value of this length goes through the memo rather than a direct scan. */
export function memoizable(value: string): boolean {
  return value.length >= MIN_MEMO_LENGTH && value.length <= MAX_MEMO_LENGTH;
}

export class ValueMemo<Result> {
  private current = new Map<string, Result>();
  private previous = new Map<string, Result>();
  private currentChars = 0;
  private previousChars = 0;

  constructor(private readonly limits: ValueMemoLimits) {
    if (!(limits.maxEntries >= 1) || !(limits.maxChars >= MAX_MEMO_LENGTH)) {
      throw new RangeError(`invalid value memo limits ${JSON.stringify(limits)}: maxEntries must be at least 1 and maxChars at least ${MAX_MEMO_LENGTH}`);
    }
  }

  /** Returns the cached result of a value, or undefined when it is not cached. A hit in the older generation moves it to the newer one. */
  get(value: string): Result | undefined {
    const found = this.current.get(value);
    if (found !== undefined) return found;
    const older = this.previous.get(value);
    if (older !== undefined) this.set(value, older);
    return older;
  }

  /**
   * Caches the result of a value, unless it is longer than MAX_MEMO_LENGTH. When the newer
   * generation is full, it replaces the older one, which is dropped.
   */
  set(value: string, result: Result): void {
    if (value.length > MAX_MEMO_LENGTH) return;
    if (this.current.size >= this.limits.maxEntries || this.currentChars + value.length > this.limits.maxChars) {
      this.previous = this.current;
      this.previousChars = this.currentChars;
      this.current = new Map();
      this.currentChars = 0;
    }
    this.current.set(value, result);
    this.currentChars += value.length;
  }

  /** Entries in both generations. A value moved from the older one counts twice, because it is stored twice. */
  get entries(): number {
    return this.current.size + this.previous.size;
  }

  /** Code units of the values in both generations. */
  get chars(): number {
    return this.currentChars + this.previousChars;
  }
}
