/**
 * Lint of `holter.summary` templates. The renderer (explain.ts) fills each `{field}` placeholder
 * and writes "unknown" for one without a value, so a misspelt or unclosed placeholder fails
 * silently at alert time. Placeholders that name a patient identifier are errors, because the
 * summary is stored with the alert and alert text must not carry patient identifiers.
 */
import type { Node } from 'yaml';

import type { SourceLocation } from '../../errors.js';
import { isPatientIdentifierPath } from '../patient-data.js';
import type { LintFinding } from './lint.js';
import type { SourceDocument } from './parse.js';

// explain.ts imports the check from this module, which lints summaries with it too.
export { isPatientIdentifierPath };

/** One `{...}` of a template, with its offset in the template text. */
export interface Placeholder {
  /** The placeholder as written, braces included. */
  text: string;
  /** The field name inside the braces, trimmed, as the renderer reads it. */
  name: string;
  offset: number;
}

export interface TemplateScan {
  placeholders: Placeholder[];
  /** Placeholders that render wrongly whatever the event: `{` without `}`, and `{}` or `{ }`. */
  malformed: { kind: 'unclosed' | 'empty'; text: string; offset: number }[];
}

/** Splits a template the way the renderer does: a placeholder is `{` up to the next `}` with no `{` between. */
export function scanTemplate(template: string): TemplateScan {
  const scan: TemplateScan = { placeholders: [], malformed: [] };
  let offset = template.indexOf('{');
  while (offset >= 0) {
    const close = template.indexOf('}', offset + 1);
    const nextOpen = template.indexOf('{', offset + 1);
    if (close < 0 || (nextOpen >= 0 && nextOpen < close)) {
      const end = nextOpen >= 0 ? nextOpen : template.length;
      scan.malformed.push({ kind: 'unclosed', text: template.slice(offset, end).trimEnd(), offset });
      offset = nextOpen;
      continue;
    }

    const text = template.slice(offset, close + 1);
    const name = text.slice(1, -1).trim();
    if (name === '') scan.malformed.push({ kind: 'empty', text, offset });
    else scan.placeholders.push({ text, name, offset });
    offset = template.indexOf('{', close + 1);
  }
  return scan;
}

/** Lookups of placeholder values for one rule or correlation, supplied by the caller. */
export interface TemplateFields {
  /** Rule or correlation title, for messages. */
  title: string;
  /** Returns why the placeholder never has a value, or undefined when it may have one. */
  unknownReason(name: string): string | undefined;
  /** Returns the event paths the placeholder may read, to find patient identifiers behind a mapped name. */
  eventPaths(name: string): string[];
  unknownHint(name: string): string;
}

/** The template's YAML value and file text, to point findings at the placeholder itself. */
export interface TemplateSource {
  source: SourceDocument;
  /** The whole file text, which the YAML node's range indexes. */
  text: string;
  node: Node;
}

/** Lints one summary template: malformed placeholders, placeholders without a value, patient identifiers. */
export function lintSummaryTemplate(template: string, fields: TemplateFields, where: TemplateSource): LintFinding[] {
  const scan = scanTemplate(template);

  // The locator searches the file text forward, so it is fed every placeholder in template order.
  const locator = placeholderLocator(where);
  const ordered = [...scan.malformed, ...scan.placeholders].sort((left, right) => left.offset - right.offset);
  const locations = new Map(ordered.map((item) => [item.offset, locator(item.text)]));
  const locationOf = (offset: number): SourceLocation => locations.get(offset) as SourceLocation;

  const findings: LintFinding[] = [];
  for (const item of scan.malformed) findings.push(malformedFinding(item, fields.title, locationOf(item.offset)));
  for (const placeholder of scan.placeholders) {
    const found = placeholderFinding(placeholder, fields, locationOf(placeholder.offset));
    if (found !== undefined) findings.push(found);
  }
  return findings;
}

function malformedFinding(item: TemplateScan['malformed'][number], title: string, location: SourceLocation): LintFinding {
  const problem = item.kind === 'unclosed' ? `has '{' without a closing '}' in '${item.text}'` : `has an empty placeholder '${item.text}'`;
  const hint = item.kind === 'unclosed' ? "close the placeholder with '}'" : "put a field name between the braces, e.g. '{user.name}', or remove them";
  return {
    severity: 'warning',
    code: 'HOLTER_LINT_SUMMARY_PLACEHOLDER',
    message: `The holter.summary of rule '${title}' ${problem}, so it renders as written or as 'unknown'.`,
    hint,
    location,
  };
}

function placeholderFinding(placeholder: Placeholder, fields: TemplateFields, location: SourceLocation): LintFinding | undefined {
  const patientPath = [placeholder.name, ...fields.eventPaths(placeholder.name)].find(isPatientIdentifierPath);
  if (patientPath !== undefined) {
    return {
      severity: 'error',
      code: 'HOLTER_LINT_SUMMARY_PATIENT_FIELD',
      message: `Placeholder '${placeholder.text}' in the holter.summary of rule '${fields.title}' reads ${patientPath}, a patient identifier, and alert text must not carry patient identifiers.`,
      hint: 'remove it, or use holter.patient.token to tell patients apart',
      location,
    };
  }

  const reason = fields.unknownReason(placeholder.name);
  if (reason === undefined) return undefined;
  return {
    severity: 'warning',
    code: 'HOLTER_LINT_UNKNOWN_FIELD',
    message: `Placeholder '${placeholder.text}' in the holter.summary of rule '${fields.title}' always renders as 'unknown': '${placeholder.name}' ${reason}`,
    hint: fields.unknownHint(placeholder.name),
    location,
  };
}

/**
 * Returns a function that finds each placeholder in the file text, in template order. A
 * placeholder that the YAML text does not contain literally (split by folding, or written with
 * escapes) is located at the start of the value.
 */
function placeholderLocator(where: TemplateSource): (placeholder: string) => SourceLocation {
  const [start = 0, end = start] = where.node.range ?? [];
  let searchFrom = start;
  const at = (offset: number): SourceLocation => {
    const position = where.source.lineCounter.linePos(offset);
    return { file: where.source.file, line: position.line, column: position.col };
  };

  return (placeholder) => {
    const found = where.text.indexOf(placeholder, searchFrom);
    if (found < 0 || found + placeholder.length > end) return at(start);
    searchFrom = found + 1;
    return at(found);
  };
}
