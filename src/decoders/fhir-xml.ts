import { ATTR, parseXml, rootElementName } from './xml.js';
import { isObject, type JsonObject } from './json.js';
import { DecodeError } from './decode-error.js';

/** Root elements that mark a FHIR XML record this decoder reads. */
const FHIR_XML_ROOTS = new Set(['AuditEvent', 'Bundle']);

export function isFhirXml(text: string): boolean {
  const root = rootElementName(text);
  return root !== undefined && FHIR_XML_ROOTS.has(root) && text.slice(0, 2048).includes('hl7.org/fhir');
}

/**
 * Converts a FHIR XML resource to the FHIR JSON shape (FHIR R4 "XML Representation"):
 * a primitive element `<code value="x"/>` becomes `"x"`, `resourceType` comes from the
 * element name, and a `resource` wrapper contains its resource under the resource's own name.
 * Narrative (`text.div`) and XML attributes other than `value` are left out.
 * NOTE: repeated elements become arrays, single ones stay objects; readers use asArray().
 */
export function parseFhirXml(text: string): JsonObject {
  const document = parseXml(text);
  const [rootName, root] = Object.entries(document).find(([key]) => !key.startsWith(ATTR) && key !== '#text') ?? [];
  if (rootName === undefined || !isObject(root)) {
    throw new DecodeError('invalid_xml', 'The FHIR XML document has no root element; check that the record contains one FHIR resource.');
  }
  return toResource(rootName, root);
}

function toResource(resourceType: string, element: JsonObject): JsonObject {
  const converted = convert(element);
  const resource = isObject(converted) ? converted : {};
  return { resourceType, ...resource };
}

function convert(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(convert);
  if (!isObject(node)) return node;

  const keys = Object.keys(node);
  const valueKey = `${ATTR}value`;
  if (valueKey in node && keys.every((key) => key.startsWith(ATTR))) return node[valueKey];

  const result: JsonObject = {};
  for (const key of keys) {
    if (key.startsWith(ATTR) || key === '#text' || key === 'div') continue;
    if (key === 'text' && isNarrative(node[key])) continue;
    result[key] = key === 'resource' ? convertWrappedResource(node[key]) : convert(node[key]);
  }
  return result;
}

function isNarrative(value: unknown): boolean {
  return isObject(value) && ('div' in value || 'status' in value);
}

function convertWrappedResource(wrapper: unknown): unknown {
  if (!isObject(wrapper)) return wrapper;
  const [name, inner] = Object.entries(wrapper).find(([key]) => !key.startsWith(ATTR)) ?? [];
  return name !== undefined && isObject(inner) ? toResource(name, inner) : convert(wrapper);
}
