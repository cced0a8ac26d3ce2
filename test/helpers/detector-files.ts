/**
 * Returns the YAML of a `first_seen` detector of new `field` values per user, id `new-source`, with
 * `extra` lines appended. `minEvents` sets `learning.min_events`.
 */
export function firstSeenDetector(field: string, options: { minEvents?: number; extra?: string } = {}): string {
  return `id: new-source
name: New source
function: first_seen
by: holter.user.id
field: ${field}
bucket_span: 1h
history: 10d
learning:
  min_days: 3
  min_events: ${options.minEvents ?? 30}
  half_life_days: 7
thresholds:
  min_values: 1
severity: low
risk_score: 20
${options.extra ?? ''}`;
}
