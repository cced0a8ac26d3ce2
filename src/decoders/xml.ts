import { DecodeError } from './decode-error.js';
import { asArray, isObject, type JsonObject } from './json.js';
import { ATTR, XmlSyntaxError, XmlTreeBuilder } from './xml-tree.js';

export { ATTR } from './xml-tree.js';

function rejectDoctype(): never {
  throw new DecodeError('invalid_xml', 'The XML document has a DOCTYPE declaration, which audit messages do not use; remove it.');
}

const trimmingBuilder = new XmlTreeBuilder(false, rejectDoctype);

/** Keeps element text exactly (Windows event data values may end in spaces); whitespace between elements shows up as `#text`. */
const exactBuilder = new XmlTreeBuilder(true, rejectDoctype);

/**
 * Parses one XML document into plain objects in one strict pass: attributes as `@_name`, text
 * as `#text`, repeated elements as arrays and namespace prefixes removed (see XmlTreeBuilder).
 * Throws DecodeError `invalid_xml` naming the line and column of the first problem.
 *
 * Audit messages never need a DOCTYPE, so one is rejected outright: that also rules out
 * entity-expansion attacks through internal entity declarations.
 */
export function parseXml(text: string, options: { keepWhitespace?: boolean } = {}): JsonObject {
  if (hasDoctype(text)) rejectDoctype();

  const builder = options.keepWhitespace ? exactBuilder : trimmingBuilder;
  try {
    return builder.parse(text);
  } catch (error) {
    if (!(error instanceof XmlSyntaxError)) throw error;
    throw new DecodeError(
      'invalid_xml',
      `The XML document does not parse at line ${error.line}, column ${error.column}: ${error.message} Check that the record holds one complete XML document.`,
    );
  }
}

/**
 * True when a `<!DOCTYPE` (in any case) starts within the first 4096 characters. The parser
 * rejects a DOCTYPE anywhere too; this check also catches one that is cut off or malformed.
 */
function hasDoctype(text: string): boolean {
  let at = text.indexOf('<!');
  while (at >= 0 && at < 4096) {
    if (text.slice(at + 2, at + 9).toUpperCase() === 'DOCTYPE') return true;
    at = text.indexOf('<!', at + 2);
  }
  return false;
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
  const value = element[attributeKey(name)];
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

/** Attribute names are few per format, so the cache stays small. The bound guards against generated names. */
const MAX_ATTRIBUTE_KEYS = 10_000;
const attributeKeys = new Map<string, string>();

/**
 * Returns the key of an attribute in a parsed element: `@_` and the name. The keys are cached,
 * because a key built per read is a new string that V8 must look up before it can be
 * used as a property name.
 */
function attributeKey(name: string): string {
  let key = attributeKeys.get(name);
  if (key === undefined) {
    if (attributeKeys.size >= MAX_ATTRIBUTE_KEYS) attributeKeys.clear();
    key = ATTR + name;
    attributeKeys.set(name, key);
  }
  return key;
}
