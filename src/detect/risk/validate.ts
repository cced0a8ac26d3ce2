import { Ajv } from 'ajv';
import type { ErrorObject } from 'ajv';
import { HolterError } from '../../errors.js';
import { locatePath, pointerToPath } from '../../yaml/locate.js';
import type { LocatedDocument } from '../../yaml/locate.js';
import { RiskFileSchema } from './schema.js';

/**
 * Validates a risk document against its schema and turns every ajv error into a
 * HOLTER_RULE_INVALID error at file:line:column, with the key path and the value at fault.
 */

const ajv = new Ajv({ allErrors: true, strict: true, verbose: true });
// `hint` annotates a string schema with the expected form, quoted when a pattern does not match.
ajv.addKeyword({ keyword: 'hint', schemaType: 'string' });
const validateFile = ajv.compile(RiskFileSchema);

/** Returns one located error per schema violation; an empty list when the document is valid. */
export function validateRiskFile(data: unknown, located: LocatedDocument): HolterError[] {
  if (validateFile(data)) return [];

  return uniqueErrors((validateFile.errors ?? []).map((problem) => toError(problem, located)));
}

/**
 * Drops errors that describe the same problem at the same place as an earlier one, keeping the
 * first, so a count of the errors matches the lines printed for them.
 */
export function uniqueErrors(errors: readonly HolterError[]): HolterError[] {
  const seen = new Set<string>();
  return errors.filter((error) => {
    const key = error.describe();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function toError(problem: ErrorObject, located: LocatedDocument): HolterError {
  const segments = pointerToPath(problem.instancePath);
  const params = problem.params as Record<string, unknown>;

  if (problem.keyword === 'additionalProperties') {
    const key = String(params.additionalProperty);
    const allowed = Object.keys((problem.parentSchema?.properties as Record<string, unknown> | undefined) ?? {});
    const expected = allowed.length > 0 ? `; expected one of ${allowed.join(', ')}` : '';
    return locatedError(located, [...segments, key], `unknown key '${key}'${expected}`);
  }
  if (problem.keyword === 'required') {
    const keyPath = [...segments, String(params.missingProperty)];
    return locatedError(located, keyPath, `missing required key '${keyPath.join('.')}'`);
  }
  return locatedError(located, segments, `${segments.join('.') || 'the document'} ${describe(problem)}`);
}

function describe(problem: ErrorObject): string {
  const params = problem.params as Record<string, unknown>;
  const got = `, got ${JSON.stringify(problem.data)}`;
  switch (problem.keyword) {
    case 'type':
      return `must be ${withArticle(String(params.type))}${got}`;
    case 'enum':
      return `must be one of ${(params.allowedValues as unknown[]).map(String).join(', ')}${got}`;
    case 'pattern': {
      const hint = problem.parentSchema?.hint as string | undefined;
      return `must be ${hint ?? `text matching ${String(params.pattern)}`}${got}`;
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `must be ${String(params.comparison)} ${String(params.limit)}${got}`;
    case 'minItems':
      return `must list at least ${String(params.limit)} item(s)`;
    case 'maxItems':
      return `must list at most ${String(params.limit)} item(s)`;
    case 'minProperties':
      return 'must weight at least one entity type: user, source or host';
    case 'minLength':
      return 'must not be empty';
    default:
      return `${problem.message ?? 'is invalid'}${got}`;
  }
}

function withArticle(type: string): string {
  if (type === 'integer') return 'an integer';
  if (type === 'object') return 'a mapping';
  if (type === 'array') return 'a list';
  return `a ${type}`;
}

/** Creates a HOLTER_RULE_INVALID error at the node of `keyPath`, or the deepest node on its way. */
export function locatedError(located: LocatedDocument, keyPath: readonly (string | number)[], message: string): HolterError {
  const position = locatePath(located, keyPath);
  return new HolterError('HOLTER_RULE_INVALID', message, {
    location: { file: located.file, line: position.line, column: position.column },
    path: keyPath.length === 0 ? undefined : keyPath.join('.'),
  });
}
