/**
 * Byte-level transformations behind the base64, base64offset and utf16 modifiers.
 * Values move between text and bytes: utf16* turn text into bytes, base64* turn bytes
 * (or UTF-8 text) into text.
 */

export type ValueBytes = Buffer;

export function utf16le(text: string): ValueBytes {
  return Buffer.from(text, 'utf16le');
}

export function utf16be(text: string): ValueBytes {
  const bytes = Buffer.from(text, 'utf16le');
  return bytes.swap16();
}

/** UTF-16 little endian with a byte order mark, as Windows writes it. */
export function utf16WithBom(text: string): ValueBytes {
  return Buffer.concat([Buffer.from([0xff, 0xfe]), utf16le(text)]);
}

export function base64(bytes: ValueBytes): string {
  return bytes.toString('base64');
}

/**
 * Returns the three forms the bytes take when encoded at byte offset 0, 1 and 2 of a longer
 * Base64 stream. Each form keeps only the characters whose 6 bits come entirely from
 * the value, so the form is the same whatever bytes surround the value.
 */
export function base64Offsets(bytes: ValueBytes): string[] {
  const forms: string[] = [];
  for (let shift = 0; shift < 3; shift++) {
    const padded = Buffer.concat([Buffer.alloc(shift), bytes]);
    const encoded = padded.toString('base64');
    const firstBit = shift * 8;
    const endBit = (shift + bytes.length) * 8;
    const first = Math.ceil(firstBit / 6);
    const end = Math.floor(endBit / 6);
    if (end > first) forms.push(encoded.slice(first, end));
  }
  return [...new Set(forms)];
}

/** Bytes as a string of code points 0-255, for matching decoded binary values. */
export function bytesToText(bytes: ValueBytes): string {
  return bytes.toString('latin1');
}
