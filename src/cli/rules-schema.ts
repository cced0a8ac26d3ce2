/**
 * The JSON Schema of detector files in schemas/detector.schema.json, for editors: the detector
 * loader's own schema per function, plus Holter's `holter` attribute with inline tests, whose
 * definitions come from schemas/sigma-rule.schema.json. test/cli/rules-schema.test.ts checks that
 * the file matches what this module builds.
 */
import { SCHEMAS, SUPPORTED_FUNCTIONS } from '../detect/baseline/schema.js';

/** Builds the detector file schema from the loader's schemas and the rule schema's test definitions. */
export function buildDetectorSchema(ruleSchema: { definitions: Record<string, unknown> }): Record<string, unknown> {
  // JSON round trip: TypeBox marks its schemas with symbol keys, which are not JSON Schema.
  const functions = Object.fromEntries(SUPPORTED_FUNCTIONS.map((name) => [name, JSON.parse(JSON.stringify(SCHEMAS[name])) as Record<string, unknown>]));
  for (const schema of Object.values(functions)) {
    (schema.properties as Record<string, unknown>).holter = {
      type: 'object',
      description: "Holter's extension: inline tests, run by `holter rules test`.",
      properties: { tests: { $ref: '#/definitions/tests' } },
      additionalProperties: false,
    };
  }

  const testDefinitions = ['tests', 'testCase', 'timeline', 'timelineItem', 'eventFields', 'expectedDetection', 'duration', 'isoTime'];
  const definitions: Record<string, unknown> = {};
  for (const name of SUPPORTED_FUNCTIONS) definitions[name] = functions[name];
  for (const name of testDefinitions) definitions[name] = ruleSchema.definitions[name];

  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'Holter detector',
    description: 'A behavioural detector file as the detector loader reads it, one schema per function. docs/detectors.md describes every key.',
    type: 'object',
    required: ['function'],
    properties: { function: { enum: [...SUPPORTED_FUNCTIONS] } },
    allOf: SUPPORTED_FUNCTIONS.map((name) => ({
      if: { properties: { function: { const: name } }, required: ['function'] },
      then: { $ref: `#/definitions/${name}` },
    })),
    definitions,
  };
}
