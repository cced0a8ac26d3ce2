/**
 * Output of `holter rules validate` and `holter rules test`: finding lines in the form compilers
 * print (`file:line:column: severity CODE message (hint)`), JSON for editors and CI, the
 * pass/fail table and JUnit XML.
 */
import path from 'node:path';

import { formatLocation } from '../errors.js';
import type { HolterError, SourceLocation } from '../errors.js';
import type { LintFinding } from '../detect/sigma/lint.js';
import type { RuleTestResult } from '../detect/sigma/rule-tests.js';
import { escapeForTerminal } from '../text/escape.js';

export interface Finding {
  severity: 'error' | 'warning';
  code: string;
  message: string;
  hint?: string;
  location: SourceLocation;
}

export function errorFinding(error: HolterError): Finding {
  const finding: Finding = { severity: 'error', code: error.code, message: error.message, location: error.location ?? { file: '(no file)' } };
  if (error.path !== undefined && error.path !== '') finding.hint = `key ${error.path}`;
  return finding;
}

export function lintFinding(lint: LintFinding): Finding {
  return { severity: lint.severity, code: lint.code, message: lint.message, hint: lint.hint, location: lint.location };
}

/** Sorts by file, line and column, errors before warnings at the same place, and drops exact repeats. */
export function sortFindings(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  const unique = findings.filter((finding) => {
    const key = formatFinding(finding, process.cwd());
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return unique.sort(
    (a, b) =>
      a.location.file.localeCompare(b.location.file) ||
      (a.location.line ?? 0) - (b.location.line ?? 0) ||
      (a.location.column ?? 0) - (b.location.column ?? 0) ||
      a.severity.localeCompare(b.severity),
  );
}

/** Returns a file path relative to the working folder when it lies inside it, as editors link them. */
export function displayPath(file: string, cwd: string): string {
  const relative = path.relative(cwd, file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

/**
 * Formats a finding as one line of readable output. Messages quote rule text and file names,
 * which may hold control characters, so the line is escaped for the terminal.
 */
export function formatFinding(finding: Finding, cwd: string): string {
  const where = formatLocation({ ...finding.location, file: displayPath(finding.location.file, cwd) });
  const hint = finding.hint === undefined ? '' : ` (${finding.hint})`;
  return escapeForTerminal(`${where}: ${finding.severity} ${finding.code} ${finding.message}${hint}`);
}

export function findingsJson(findings: Finding[], files: number, cwd: string): string {
  const items = findings.map((finding) => ({
    file: displayPath(finding.location.file, cwd),
    line: finding.location.line ?? null,
    column: finding.location.column ?? null,
    severity: finding.severity,
    code: finding.code,
    message: finding.message,
    hint: finding.hint ?? null,
  }));
  const errors = findings.filter((finding) => finding.severity === 'error').length;
  return `${JSON.stringify({ files, errors, warnings: findings.length - errors, findings: items }, null, 2)}\n`;
}

/** Returns the pass/fail table: one row per case, and under a failed case what was expected and what happened. */
export function formatResultTable(results: RuleTestResult[], cwd: string): string {
  // Rule ids, case names and failures quote the rule file and test events, so each is escaped.
  const rows = results.map((result) => ({
    status: result.passed ? 'pass' : 'FAIL',
    suite: escapeForTerminal(result.suite),
    name: escapeForTerminal(result.name),
    where: escapeForTerminal(formatLocation({ ...result.location, file: displayPath(result.location.file, cwd) })),
    failure: result.failure === undefined ? undefined : escapeForTerminal(result.failure),
  }));
  const header = { status: 'RESULT', suite: 'RULE', name: 'TEST', where: 'LOCATION' };
  const width = (key: 'status' | 'suite' | 'name'): number => Math.max(header[key].length, ...rows.map((row) => row[key].length));
  const widths = { status: width('status'), suite: width('suite'), name: width('name') };
  const line = (row: typeof header): string => `${row.status.padEnd(widths.status)}  ${row.suite.padEnd(widths.suite)}  ${row.name.padEnd(widths.name)}  ${row.where}`.trimEnd();

  const lines = [line(header)];
  for (const row of rows) {
    lines.push(line(row));
    if (row.failure !== undefined) lines.push(`${' '.repeat(widths.status + 2)}${row.failure}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Returns a JUnit XML report: one test suite per rule or detector with one test case per inline
 * case, then one suite per file that did not load with one failed case per error. A file that
 * does not load hides its tests, so its errors count as failures too. CI that reads only the XML
 * then fails a run with broken rules.
 */
export function junitXml(results: RuleTestResult[], cwd: string, loadErrors: Finding[] = []): string {
  const suites = new Map<string, RuleTestResult[]>();
  for (const result of results) suites.set(result.suite, [...(suites.get(result.suite) ?? []), result]);
  const loadSuites = new Map<string, Finding[]>();
  for (const finding of loadErrors) {
    const file = displayPath(finding.location.file, cwd);
    loadSuites.set(file, [...(loadSuites.get(file) ?? []), finding]);
  }
  const tests = results.length + loadErrors.length;
  const failures = results.filter((result) => !result.passed).length + loadErrors.length;

  const lines = ['<?xml version="1.0" encoding="UTF-8"?>', `<testsuites name="holter rules test" tests="${tests}" failures="${failures}">`];
  for (const [suite, cases] of suites) {
    const suiteFailures = cases.filter((result) => !result.passed).length;
    lines.push(`  <testsuite name="${escapeXml(suite)}" tests="${cases.length}" failures="${suiteFailures}">`);
    for (const result of cases) {
      const file = displayPath(result.location.file, cwd);
      const attributes = `name="${escapeXml(result.name)}" classname="${escapeXml(suite)}" file="${escapeXml(file)}" line="${result.location.line ?? 0}"`;
      if (result.passed) {
        lines.push(`    <testcase ${attributes}/>`);
        continue;
      }
      const failure = escapeXml(result.failure ?? 'failed');
      lines.push(`    <testcase ${attributes}>`, `      <failure message="${failure}">${failure}</failure>`, '    </testcase>');
    }
    lines.push('  </testsuite>');
  }
  for (const [file, findings] of loadSuites) lines.push(...junitLoadSuite(file, findings, cwd));
  lines.push('</testsuites>');
  return `${lines.join('\n')}\n`;
}

/** Returns the test suite of one file that did not load: a failed case per error, named by its location and code. */
function junitLoadSuite(file: string, findings: Finding[], cwd: string): string[] {
  const suite = `load ${file}`;
  const lines = [`  <testsuite name="${escapeXml(suite)}" tests="${findings.length}" failures="${findings.length}">`];
  for (const finding of findings) {
    const where = formatLocation({ ...finding.location, file });
    const name = `${where} ${finding.code}`;
    const message = `${finding.message}${finding.hint === undefined ? '' : ` (${finding.hint})`}`;
    const attributes = `name="${escapeXml(name)}" classname="${escapeXml(suite)}" file="${escapeXml(file)}" line="${finding.location.line ?? 0}"`;
    lines.push(
      `    <testcase ${attributes}>`,
      `      <failure message="${escapeXml(message)}" type="${escapeXml(finding.code)}">${escapeXml(formatFinding(finding, cwd))}</failure>`,
      '    </testcase>',
    );
  }
  lines.push('  </testsuite>');
  return lines;
}

/**
 * Returns the rule and detector load errors of a run as `rules validate` prints them, one line
 * each, under a line with the number of rules and detectors rejected. Returns '' when everything
 * loaded.
 */
export function formatLoadErrors(
  load: { ruleErrors: HolterError[]; detectorErrors: HolterError[]; rulesRejected: number; detectorsRejected: number; riskErrors?: HolterError[] },
  cwd: string,
): string {
  const riskLines = formatRiskErrors(load.riskErrors ?? [], cwd);
  // sortFindings drops repeated lines, so the errors are counted after it.
  const findings = sortFindings([...load.ruleErrors, ...load.detectorErrors].map(errorFinding));
  if (findings.length === 0) return riskLines;
  const rules = `${load.rulesRejected} rule${load.rulesRejected === 1 ? '' : 's'}`;
  const detectors = `${load.detectorsRejected} detector${load.detectorsRejected === 1 ? '' : 's'}`;
  const count = `${findings.length} error${findings.length === 1 ? '' : 's'}`;
  const lines = [`${count} in rule and detector files: ${rules} and ${detectors} rejected, and the run goes on without them.`];
  for (const finding of findings) lines.push(formatFinding(finding, cwd));
  // Loading stops at a rule's first problems, but validate also compiles and lints what it can.
  lines.push('Run holter rules validate on these files to list every problem at once.');
  return `${lines.join('\n')}\n${riskLines}`;
}

/** Lists the problems of the risk settings, which turn risk scoring off for the run. */
function formatRiskErrors(errors: HolterError[], cwd: string): string {
  const findings = sortFindings(errors.map(errorFinding));
  if (findings.length === 0) return '';
  const lines = [`${findings.length} error${findings.length === 1 ? '' : 's'} in the risk settings: the run goes on without risk scoring.`];
  for (const finding of findings) lines.push(formatFinding(finding, cwd));
  return `${lines.join('\n')}\n`;
}

/** Escapes text for XML attributes and content; characters XML 1.0 does not allow become U+FFFD. */
function escapeXml(text: string): string {
  return text
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '\uFFFD')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&apos;');
}
