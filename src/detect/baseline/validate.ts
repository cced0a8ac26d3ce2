import type { TSchema } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { Document, LineCounter } from 'yaml';
import { HolterError } from '../../errors.js';
import { locatePath } from './locate.js';
import { SCHEMAS } from './schema.js';
import type { DetectorFunction } from './schema.js';

/**
 * Validates a detector document against the schema of its function and turns every ajv error
 * into a HolterError located at file:line:column, with the key path and the value at fault.
 */

const ajv = new Ajv({ allErrors: true, strict: true, verbose: true });
// `hint` is an annotation in the schema: the expected form, quoted when a pattern does not match.
ajv.addKeyword({ keyword: 'hint', schemaType: 'string' });

const validators = new Map<DetectorFunction, ValidateFunction>();

function validatorFor(fn: DetectorFunction): ValidateFunction {
  let validate = validators.get(fn);
  if (validate === undefined) {
    validate = ajv.compile(SCHEMAS[fn]);
    validators.set(fn, validate);
  }
  return validate;
}

export interface DocumentContext {
  file: string;
  document: Document;
  lineCounter: LineCounter;
}

/** Returns one located error per schema violation; an empty list when the document is valid. */
export function validateDetector(fn: DetectorFunction, data: unknown, context: DocumentContext): HolterError[] {
  const validate = validatorFor(fn);
  if (validate(data)) return [];

  const errors = validate.errors ?? [];
  // A value that matches no branch of a union gets one error for the union, not one per branch.
  const unionPaths = errors.filter((error) => error.keyword === 'anyOf').map((error) => error.instancePath);
  const reported = new Set<string>();
  const problems: HolterError[] = [];
  for (const error of errors) {
    if (error.keyword !== 'anyOf' && unionPaths.some((path) => isWithin(error.instancePath, path))) continue;
    const problem = toProblem(error, fn, context);
    const key = problem.describe();
    if (reported.has(key)) continue;
    reported.add(key);
    problems.push(problem);
  }
  return problems;
}

function isWithin(instancePath: string, unionPath: string): boolean {
  return instancePath === unionPath || instancePath.startsWith(`${unionPath}/`);
}

/**
 * The key of the peer group fields is `learning.peer_group` for time_of_day and time_of_week, and
 * `over` for the bucket functions, first_seen and rare. Each is unknown to the other functions.
 */
const PEER_GROUP_KEYS = ['over', 'learning.peer_group'];

/** Tells whether the schema of `fn` has a key at a dotted path of nested mappings. */
function schemaHasKey(fn: DetectorFunction, keyPath: string): boolean {
  let schema: TSchema | undefined = SCHEMAS[fn];
  for (const key of keyPath.split('.')) {
    schema = (schema?.properties as Record<string, TSchema> | undefined)?.[key];
  }
  return schema !== undefined;
}

/** Returns the message for a peer group key that `fn` does not have, naming the key it has instead. */
function peerGroupKeyMessage(fn: DetectorFunction, keyPath: string): string {
  const instead = PEER_GROUP_KEYS.find((key) => key !== keyPath && schemaHasKey(fn, key));
  if (instead === undefined) return `unknown key '${keyPath}': ${fn} judges each entity by its own history and has no peer group`;
  return `unknown key '${keyPath}' for ${fn}; did you mean '${instead}'? ${fn} names its peer group fields there`;
}

function toProblem(error: ErrorObject, fn: DetectorFunction, context: DocumentContext): HolterError {
  const segments = error.instancePath.split('/').slice(1).map(decodePointer);
  const params = error.params as Record<string, unknown>;

  if (error.keyword === 'additionalProperties') {
    const key = String(params.additionalProperty);
    const allowed = Object.keys((error.parentSchema?.properties as Record<string, unknown> | undefined) ?? {});
    const keyPath = [...segments, key];
    if (PEER_GROUP_KEYS.includes(keyPath.join('.'))) return located(context, keyPath, 'key', peerGroupKeyMessage(fn, keyPath.join('.')));
    const expected = allowed.length > 0 ? `; expected one of ${allowed.join(', ')}` : '';
    return located(context, keyPath, 'key', `unknown key '${key}'${expected}`);
  }

  if (error.keyword === 'required') {
    const key = String(params.missingProperty);
    return located(context, segments, 'value', `missing required key '${[...segments, key].join('.')}'`, [...segments, key].join('.'));
  }

  return located(context, segments, 'value', `${segments.join('.') || 'the document'} ${describe(error)}`);
}

function describe(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  const got = `, got ${formatData(error.data)}`;
  switch (error.keyword) {
    case 'type':
      // ajv rejects infinite numbers and NaN as not numbers, which would read as a wrong type.
      if (typeof error.data === 'number' && (params.type === 'number' || params.type === 'integer')) {
        return `must be a finite ${params.type === 'integer' ? 'integer' : 'number'}${got}`;
      }
      return `must be ${article(String(params.type))}${got}`;
    case 'const':
      return `must be ${JSON.stringify(params.allowedValue)}${got}`;
    case 'enum':
      return `must be one of ${(params.allowedValues as unknown[]).map(String).join(', ')}${got}`;
    case 'pattern': {
      const hint = error.parentSchema?.hint as string | undefined;
      return `must be ${hint ?? `text matching ${String(params.pattern)}`}${got}`;
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `must be ${String(params.comparison)} ${String(params.limit)}${got}`;
    case 'minItems':
      return `must list at least ${String(params.limit)} item(s)`;
    case 'minLength':
      return 'must not be empty';
    case 'anyOf':
      return `must be a string, number, boolean or a list of them${got}`;
    default:
      return `${error.message ?? 'is invalid'}${got}`;
  }
}

/** Writes a value as JSON, except the numbers JSON cannot write, which get their YAML spelling. */
function formatData(data: unknown): string {
  if (typeof data === 'number' && !Number.isFinite(data)) {
    if (Number.isNaN(data)) return '.nan';
    return data > 0 ? '.inf' : '-.inf';
  }
  return JSON.stringify(data);
}

function article(type: string): string {
  if (type === 'integer') return 'an integer';
  if (type === 'object') return 'a mapping';
  if (type === 'array') return 'a list';
  return `a ${type}`;
}

function decodePointer(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** Creates a HOLTER_RULE_INVALID error located at a key path of the document. */
export function located(
  context: DocumentContext,
  segments: readonly string[],
  at: 'value' | 'key',
  message: string,
  keyPath = segments.join('.'),
): HolterError {
  const position = locatePath(context.document, context.lineCounter, segments, at);
  return new HolterError('HOLTER_RULE_INVALID', message, {
    location: { file: context.file, line: position.line, column: position.column },
    path: keyPath === '' ? undefined : keyPath,
  });
}
