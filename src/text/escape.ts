/**
 * Escaping of untrusted text (event fields, rule and detector files) for readable output on a
 * terminal. A raw control character or escape sequence could clear the screen, recolour or hide
 * text, or retitle the window, and a bidirectional control could make a line read in another
 * order than it runs. JSON outputs need none of this, because JSON already escapes controls.
 */

/**
 * C0 controls other than tab, DEL, C1 controls, the Unicode line and paragraph separators, and the
 * bidirectional controls (U+061C, U+200E, U+200F, U+202A to U+202E, U+2066 to U+2069).
 */
const UNSAFE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/gu;
const UNSAFE_OR_TAB = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/gu;

export interface EscapeOptions {
  /** Keep tab characters, where the layout of the output uses them; defaults to escaping them. */
  keepTab?: boolean;
}

/**
 * Replaces each control character in text with a visible escape: `\x1b` for a C0 or C1 control
 * or DEL, `\u202e` for a Unicode control above U+00FF. Backslashes are kept as they are, so a
 * Windows account such as `CARDIO\jdoe` reads as written, and a literal `\x1b` in the input looks
 * the same as an escaped ESC character.
 */
export function escapeForTerminal(text: string, options: EscapeOptions = {}): string {
  const pattern = options.keepTab === true ? UNSAFE : UNSAFE_OR_TAB;
  return text.replace(pattern, (character) => {
    const code = character.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Escapes each line of a multi-line text as escapeForTerminal does, keeping its line breaks. */
export function escapeLines(text: string, options: EscapeOptions = {}): string {
  return text
    .split('\n')
    .map((line) => escapeForTerminal(line, options))
    .join('\n');
}
