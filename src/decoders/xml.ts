import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { DecodeError } from './decode-error.js';
import { asArray, isObject, type JsonObject } from './json.js';

/** Attribute keys in parsed XML carry this prefix; element text is under `#text`. */
export const ATTR = '@_';

const PARSER_OPTIONS = {
  ignoreAttributes: false,
  attributeNamePrefix: ATTR,
  parseTagValue: false,
  parseAttributeValue: false,
  removeNSPrefix: true,
  processEntities: true,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
};

const trimmingParser = new XMLParser({ ...PARSER_OPTIONS, trimValues: true });

/** Keeps element text exactly (Windows event data values may end in spaces); whitespace between elements shows up as `#text`. */
const exactParser = new XMLParser({ ...PARSER_OPTIONS, trimValues: false });

/**
 * Parses one XML document into plain objects (attributes as `@_name`, text as `#text`,
 * repeated elements as arrays, namespace prefixes removed). Throws DecodeError
 * `invalid_xml` naming the line and column of the first problem.
 *
 * Audit messages never need a DOCTYPE, so one is rejected outright: that also rules out
 * entity-expansion attacks through internal entity declarations.
 */
export function parseXml(text: string, options: { keepWhitespace?: boolean } = {}): JsonObject {
  if (/<!DOCTYPE/i.test(text.slice(0, 4096))) {
    throw new DecodeError('invalid_xml', 'The XML document has a DOCTYPE declaration, which audit messages do not use; remove it.');
  }

  // NOTE: validating and then parsing reads each document twice, roughly doubling XML decode
  // time; the parser alone accepts unclosed and mismatched tags, so validation stays.
  const verdict = XMLValidator.validate(text);
  if (verdict !== true) {
    const { line, col, msg } = verdict.err;
    throw new DecodeError(
      'invalid_xml',
      `The XML document does not parse at line ${line}, column ${col}: ${msg}. Check that the record holds one complete XML document.`,
    );
  }
  const parser = options.keepWhitespace ? exactParser : trimmingParser;
  return parser.parse(text) as JsonObject;
}

/**
 * Returns the local name of the first element of an XML text, skipping a byte order mark,
 * whitespace, the `- ` expander markers Event Viewer copies, the XML declaration,
 * processing instructions and comments. Reads only the prefix it needs.
 */
export function rootElementName(text: string): string | undefined {
  let i = 0;
  const end = Math.min(text.length, 65_536);
  while (i < end) {
    const code = text.charCodeAt(i);
    if (code === 0xfeff || code === 32 || code === 9 || code === 10 || code === 13 || code === 45) {
      i++;
      continue;
    }
    if (code !== 60) return undefined; // '<'

    if (text.startsWith('<?', i)) {
      const close = text.indexOf('?>', i);
      if (close < 0) return undefined;
      i = close + 2;
      continue;
    }
    if (text.startsWith('<!--', i)) {
      const close = text.indexOf('-->', i);
      if (close < 0) return undefined;
      i = close + 3;
      continue;
    }
    const match = /^<([A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)/.exec(text.slice(i, i + 200));
    return match?.[2];
  }
  return undefined;
}

/** Returns an attribute value of a parsed element. */
export function attr(element: unknown, name: string): string | undefined {
  if (!isObject(element)) return undefined;
  const value = element[ATTR + name];
  return typeof value === 'string' ? value : undefined;
}

/** Returns the text of a parsed element that may be a plain string or an object with `#text`. */
export function textOf(element: unknown): string | undefined {
  if (typeof element === 'string') return element;
  if (isObject(element) && typeof element['#text'] === 'string') return element['#text'];
  return undefined;
}

/** Returns the child elements of a name as an array, whether the parser gave one or many. */
export function children(element: unknown, name: string): unknown[] {
  return isObject(element) ? asArray(element[name]) : [];
}
