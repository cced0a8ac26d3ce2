/**
 * Lint of temporal correlations whose condition no window can meet. A temporal or
 * temporal_ordered window counts the entries of `correlation.rules` that matched in it, so the
 * count runs from 1 to the number of entries, and a condition that needs more never fires.
 */
import type { SourceLocation } from '../../errors.js';
import type { LintFinding } from './lint.js';
import type { ComparisonOperator, CorrelationRule } from './model.js';
import { meetsComparison } from './windows.js';

export function lintUnreachableCorrelation(correlation: CorrelationRule, location: SourceLocation): LintFinding[] {
  if (correlation.type !== 'temporal' && correlation.type !== 'temporal_ordered') return [];
  const named = correlation.rules.length;

  // No rules or no comparison is a load error already, reported by the engine.
  if (named === 0) return [];
  const comparisons = correlation.condition?.comparisons ?? [{ operator: 'gte' as const, value: named }];
  if (comparisons.length === 0) return [];

  // Loading rejects a rule listed twice, so the entries name distinct rules.
  for (let count = 1; count <= named; count++) {
    if (comparisons.every(({ operator, value }) => meetsComparison(operator, count, value))) return [];
  }

  const condition = comparisons.map(({ operator, value }) => `${operator}: ${value}`).join(', ');
  const needed = smallestCountNeeded(comparisons);
  // A lower bound that some count meets, more rules could reach; one that no count meets, only a new condition can.
  const satisfiable = needed !== undefined && comparisons.every(({ operator, value }) => meetsComparison(operator, needed, value));
  const hint =
    needed !== undefined && needed > named && satisfiable
      ? `list the ${needed} rules the condition needs in correlation.rules, or lower the condition to at most ${named}`
      : `change the condition so that a count from 1 to ${named} meets it`;
  return [
    {
      severity: 'warning',
      code: 'HOLTER_LINT_UNREACHABLE_CORRELATION',
      message: `Correlation '${correlation.title}' (${correlation.type}) names ${named} rule${named === 1 ? '' : 's'}, but no count of matched rules from 1 to ${named} meets its condition {${condition}}, so it never fires.`,
      hint,
      location,
    },
  ];
}

/** Returns the smallest whole count that the lower bounds of the condition allow, if it has any. */
function smallestCountNeeded(comparisons: { operator: ComparisonOperator; value: number }[]): number | undefined {
  const bounds = comparisons.flatMap(({ operator, value }) => {
    if (operator === 'gte' || operator === 'eq') return [Math.ceil(value)];
    if (operator === 'gt') return [Math.floor(value) + 1];
    return [];
  });
  return bounds.length === 0 ? undefined : Math.max(...bounds);
}
