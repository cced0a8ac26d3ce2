import { SaxesParser, type SaxesTagPlain } from 'saxes';

/** Namespace processing stays off, because the decoders expect prefixes removed by name. */
type PlainOptions = { xmlns: false; position: true };
import type { JsonObject } from './json.js';

/** The prefix of attribute keys in parsed XML. Element text is under `#text`. */
export const ATTR = '@_';
const TEXT = '#text';

/** A well-formedness error, with the position (1-based line and column) at which the parser stopped. */
export class XmlSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(message);
    this.name = 'XmlSyntaxError';
  }
}

/**
 * Builds plain objects from XML in one strict pass over the text, with the saxes 6 SAX parser
 * (XML 1.0 well-formedness: mismatched or unclosed tags, duplicate attributes and undefined
 * entities are errors). The shape:
 * - an element without attributes or child elements is its text (`''` when empty);
 * - otherwise it is an object with attributes as `@_name`, child elements by name (an array when
 *   the name repeats) and its text, if any, under `#text`;
 * - namespace prefixes are removed from element and attribute names, and `xmlns` declarations
 *   are dropped;
 * - entity and character references are decoded, CDATA sections join the text, and comments,
 *   processing instructions and the XML declaration are skipped.
 *
 * Text is trimmed unless `keepWhitespace` is set; then whitespace between child elements also
 * shows up as `#text`. One builder parses one document at a time (it reuses its parser).
 */
export class XmlTreeBuilder {
  private parser: SaxesParser<PlainOptions>;
  // Per-depth state of the open elements, kept in parallel arrays so that opening an element
  // allocates nothing but its own object, and that only once it has an attribute or a child.
  private readonly names: string[] = [];
  private readonly nodes: (JsonObject | undefined)[] = [];
  private readonly texts: string[] = [];
  private depth = 0;
  private document: JsonObject = {};
  /** The attributes of the element being opened, collected from saxes' attribute events. */
  private pendingAttributes: JsonObject | undefined;

  constructor(
    private readonly keepWhitespace: boolean,
    private readonly onDoctype: () => never,
  ) {
    this.parser = this.createParser();
  }

  /** Parses one complete document. Throws XmlSyntaxError when the text is not well-formed XML. */
  parse(text: string): JsonObject {
    this.document = {};
    this.depth = 0;
    this.pendingAttributes = undefined;
    try {
      this.parser.write(text).close();
    } catch (error) {
      const parser = this.parser;
      // A parser that failed part-way keeps its state, so the next document gets a new one.
      this.parser = this.createParser();
      if (error instanceof Error && error.constructor === Error) {
        throw new XmlSyntaxError(withoutPosition(error.message), parser.line, parser.column);
      }
      throw error;
    }
    const document = this.document;
    this.document = {};
    return document;
  }

  private createParser(): SaxesParser<PlainOptions> {
    const parser = new SaxesParser<PlainOptions>({ xmlns: false, position: true });
    parser.on('attribute', (attribute) => this.addAttribute(attribute.name, attribute.value));
    parser.on('opentag', (tag) => this.open(tag));
    parser.on('closetag', () => this.close());
    parser.on('text', (text) => this.addText(text));
    parser.on('cdata', (text) => this.addText(text));
    parser.on('doctype', this.onDoctype);
    return parser;
  }

  /**
   * Saxes reports each attribute before the open tag, in document order. Reading them here
   * spares a `for...in` over the tag's attribute object, which saxes creates without a
   * prototype and so in V8's slower dictionary mode. A duplicate attribute still fails the
   * parse, because saxes checks before it reports the open tag.
   */
  private addAttribute(name: string, value: string): void {
    if (name === 'xmlns' || name.startsWith('xmlns:')) return;
    const node = (this.pendingAttributes ??= {});
    node[ATTR + localName(name)] = value;
  }

  private open(tag: SaxesTagPlain): void {
    const depth = ++this.depth;
    this.names[depth] = localName(tag.name);
    this.texts[depth] = '';
    this.nodes[depth] = this.pendingAttributes;
    this.pendingAttributes = undefined;
  }

  private addText(text: string): void {
    // Text outside the root element can only be whitespace, because the parser rejects anything else.
    if (this.depth > 0) this.texts[this.depth] += text;
  }

  private close(): void {
    const depth = this.depth--;
    const node = this.nodes[depth];
    const rawText = this.texts[depth] as string;
    const text = this.keepWhitespace ? rawText : rawText.trim();
    this.nodes[depth] = undefined;

    let value: unknown = text;
    if (node !== undefined) {
      if (text !== '') node[TEXT] = text;
      value = node;
    }

    let parent: JsonObject;
    if (depth === 1) {
      parent = this.document;
    } else {
      parent = this.nodes[depth - 1] ?? {};
      this.nodes[depth - 1] = parent;
    }
    addChild(parent, this.names[depth] as string, value);
  }
}

/** Adds a child element's value under its name, turning the entry into an array when the name repeats. */
function addChild(parent: JsonObject, name: string, value: unknown): void {
  const existing = parent[name];
  if (existing === undefined || !Object.hasOwn(parent, name)) {
    // Assigning `__proto__` would replace the object's prototype instead of adding a key.
    if (name === '__proto__') Object.defineProperty(parent, name, { value, enumerable: true, writable: true, configurable: true });
    else parent[name] = value;
    return;
  }
  if (Array.isArray(existing)) existing.push(value);
  else parent[name] = [existing, value];
}

/** Removes a namespace prefix: `xsi:type` -> `type`. */
function localName(name: string): string {
  const colon = name.indexOf(':');
  return colon < 0 ? name : name.slice(colon + 1);
}

/** Removes the `line:column: ` prefix of saxes messages, because the caller reports the position itself. */
function withoutPosition(message: string): string {
  return message.replace(/^\d+:\d+: /, '');
}
