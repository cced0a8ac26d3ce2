import type { Explanation } from './types.js';

/**
 * Fields whose values a page may show. Pages leave the system that keeps the audit trail, so a
 * pager summary names who acted, from where, and the numbers. Values of every other field (patient
 * tokens, record fields, free text such as a break-glass reason) are withheld from it, and the
 * stored alert keeps them.
 */
export const PAGER_FIELDS: ReadonlySet<string> = new Set(['holter.user.id', 'user.name', 'user.id', 'source.ip', 'host.name', 'actual', 'threshold', 'window']);

/** Text put in a pager summary in place of a field value that is not on the pager allowlist. */
export const WITHHELD = '[withheld: see the stored alert]';

/** Shows a field's value in a summary, or withholds it. */
export type ShowValue = (field: string, value: string) => string;

const showAll: ShowValue = (_field, value) => value;
const showOnPager: ShowValue = (field, value) => (PAGER_FIELDS.has(field) ? value : WITHHELD);

/**
 * Renders a summary twice: with every value for the alert, and with only pager fields' values
 * for pages. `render` passes each field value it names through `show`. The pager summary is set
 * only when it differs.
 */
export function summaries(render: (show: ShowValue) => string): Pick<Explanation, 'summary' | 'pagerSummary'> {
  const summary = render(showAll);
  const pagerSummary = render(showOnPager);
  return pagerSummary === summary ? { summary } : { summary, pagerSummary };
}
