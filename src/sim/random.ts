/**
 * Seeded pseudo-random numbers for the simulator. The same seed gives the same sequence on every
 * platform, because only 32-bit integer arithmetic (Math.imul, >>> 0) is used.
 *
 * The generator is xoshiro128** (Blackman and Vigna, 2018): 128 bits of state, period 2^128 - 1.
 * It is not cryptographic and must never be used for keys or tokens.
 */
export class Random {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** Seeds the state from the given 32-bit integers with SplitMix32, so nearby seeds diverge at once. */
  constructor(...seeds: number[]) {
    let x = 0x9e3779b9;
    for (const seed of seeds) x = mix32(x ^ (seed >>> 0));
    this.s0 = mix32((x += 0x9e3779b9));
    this.s1 = mix32((x += 0x9e3779b9));
    this.s2 = mix32((x += 0x9e3779b9));
    this.s3 = mix32((x += 0x9e3779b9));
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Next unsigned 32-bit integer. */
  nextUint32(): number {
    const result = Math.imul(rotateLeft(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotateLeft(this.s3, 11);
    return result;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** Uniform float in [min, max). */
  between(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('Random.pick needs at least one item');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** Standard normal variate (Box-Muller transform). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Count around `mean` with a relative spread `spread` (0.3 is +-30% at one standard deviation), never below 0. */
  count(mean: number, spread: number): number {
    return Math.max(0, Math.round(mean * (1 + spread * this.normal())));
  }

  /** Lower-case hexadecimal string of `length` digits. */
  hex(length: number): string {
    let text = '';
    while (text.length < length) text += this.nextUint32().toString(16).padStart(8, '0');
    return text.slice(0, length);
  }

  /** RFC 4122 version 4 layout, filled from this generator (so reproducible, unlike crypto.randomUUID). */
  uuid(): string {
    const h = this.hex(32);
    const variant = ((parseInt(h[16] as string, 16) & 0x3) | 0x8).toString(16);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }

  /** String of decimal digits, the first one non-zero. */
  digits(length: number): string {
    let text = String(this.int(1, 9));
    while (text.length < length) text += String(this.int(0, 9));
    return text;
  }
}

function rotateLeft(value: number, bits: number): number {
  return (value << bits) | (value >>> (32 - bits));
}

/** SplitMix32-style finaliser: a bijective scramble of 32 bits. */
function mix32(value: number): number {
  let z = value >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}
