import { readFile } from 'node:fs/promises';
import { isMap } from 'yaml';
import { HolterError } from '../../errors.js';
import { documentData, locatePath, parseLocated } from '../../yaml/locate.js';
import type { LocatedDocument } from '../../yaml/locate.js';
import { durationMs } from '../baseline/schema.js';
import { isWithinMaxDuration, maxDurationText } from '../sigma/duration.js';
import { ENTITY_TYPES, RISK_DEFAULTS } from './schema.js';
import type { EntityType, RiskConfig, RiskFile, RiskWindow } from './schema.js';
import { locatedError, uniqueErrors, validateRiskFile } from './validate.js';

/**
 * Reads and validates the risk file. A file with any problem gives no configuration and every
 * problem found, each at file:line:column.
 */
export async function loadRiskConfig(file: string): Promise<{ config?: RiskConfig; errors: HolterError[] }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? 'read failed';
    const message = `cannot read risk file (${reason}); check the path, or leave risk scoring off`;
    return { errors: [new HolterError('HOLTER_RULE_INVALID', message, { location: { file }, cause: error })] };
  }
  return parseRiskConfig(text, file);
}

/** Parses and validates the text of a risk file; `file` is used in error locations. */
export function parseRiskConfig(text: string, file: string): { config?: RiskConfig; errors: HolterError[] } {
  const located = parseLocated(file, text);
  if (located.document.errors.length > 0) {
    const errors = located.document.errors.map((error) => {
      const start = located.lineCounter.linePos(error.pos[0]);
      const reason = error.message.split('\n')[0] ?? error.message;
      return new HolterError('HOLTER_RULE_INVALID', `invalid YAML: ${reason}`, { location: { file, line: start.line, column: start.col } });
    });
    return { errors };
  }
  if (!isMap(located.document.contents)) {
    return { errors: [locatedError(located, [], 'a risk file must be a YAML mapping with keys such as half_life, entities and windows')] };
  }

  let data: unknown;
  try {
    data = documentData(located.document, located.file, 'HOLTER_RULE_INVALID');
  } catch (error) {
    if (error instanceof HolterError) return { errors: [error] };
    throw error;
  }
  const errors = validateRiskFile(data, located);
  if (errors.length > 0) return { errors };

  const raw = data as RiskFile;
  const windows = raw.windows.map((window) => resolveWindow(window, raw));
  // Windows with the same name and threshold give the same floor message, which is listed once.
  errors.push(...uniqueErrors(checkSemantics(raw, windows, located)));
  if (errors.length > 0) return { errors };

  return { config: resolve(raw, windows, located), errors: [] };
}

function resolveWindow(window: RiskFile['windows'][number], raw: RiskFile): RiskWindow {
  return {
    name: window.name ?? window.length,
    lengthMs: durationMs(window.length),
    halfLifeMs: durationMs(window.half_life ?? raw.half_life),
    threshold: window.threshold,
    rearmBelow: window.threshold * (window.rearm_ratio ?? raw.rearm_ratio ?? RISK_DEFAULTS.rearm_ratio),
    severity: window.severity ?? RISK_DEFAULTS.severity,
    riskScore: window.risk_score ?? RISK_DEFAULTS.risk_score,
  };
}

/** Checks what the schema cannot express. */
function checkSemantics(raw: RiskFile, windows: RiskWindow[], located: LocatedDocument): HolterError[] {
  const errors: HolterError[] = [];
  const names = new Map<string, number>();
  for (const [index, window] of windows.entries()) {
    const earlier = names.get(window.name);
    if (earlier !== undefined) {
      const message = `window name '${window.name}' is already used by windows.${earlier}; give each window its own name`;
      errors.push(locatedError(located, ['windows', index], message));
    }
    names.set(window.name, index);

    if (raw.floor >= window.rearmBelow) {
      const message =
        `floor (${raw.floor}) must be below the re-arm level of window '${window.name}' ` +
        `(threshold ${window.threshold} x rearm_ratio = ${window.rearmBelow}); an entity whose risk falls below ` +
        'the floor is dropped with its page state, so the floor must stay under every re-arm level';
      errors.push(locatedError(located, ['floor'], message));
    }
  }

  // A mistyped length such as 99999999999999d would make window ends invalid dates mid-run.
  const tooLong = (keyPath: (string | number)[], text: string, setting: 'risk.length' | 'risk.half_life'): void => {
    if (isWithinMaxDuration(setting, durationMs(text))) return;
    errors.push(locatedError(located, keyPath, `${keyPath.join('.')} is ${text}, longer than the largest allowed, ${maxDurationText(setting)}`));
  };
  tooLong(['half_life'], raw.half_life, 'risk.half_life');
  raw.windows.forEach((window, index) => {
    tooLong(['windows', index, 'length'], window.length, 'risk.length');
    if (window.half_life !== undefined) tooLong(['windows', index, 'half_life'], window.half_life, 'risk.half_life');
  });

  const weighted = ENTITY_TYPES.filter((type) => (raw.entities[type] ?? 0) > 0);
  if (weighted.length === 0) {
    errors.push(locatedError(located, ['entities'], 'entities gives every entity type weight 0; give user, source or host a weight above 0'));
  }
  return errors;
}

function resolve(raw: RiskFile, windows: RiskWindow[], located: LocatedDocument): RiskConfig {
  const weights: Partial<Record<EntityType, number>> = {};
  for (const type of ENTITY_TYPES) {
    const weight = raw.entities[type];
    if (weight !== undefined && weight > 0) weights[type] = weight;
  }
  const tagScale = new Map<string, number>();
  for (const [tag, factor] of Object.entries(raw.scale?.tags ?? {})) tagScale.set(tag.toLowerCase(), factor as number);

  return {
    file: located.file,
    line: locatePath(located, ['windows']).line,
    floor: raw.floor,
    weights,
    // Shortest first: a longer window does not page a burst that a shorter window has paged.
    windows: [...windows].sort((a, b) => a.lengthMs - b.lengthMs),
    ruleScale: new Map(Object.entries(raw.scale?.rules ?? {}) as Array<[string, number]>),
    tagScale,
    signalRules: new Set(raw.signals?.rules ?? []),
    maxEntities: raw.max_entities ?? RISK_DEFAULTS.max_entities,
    maxContributions: raw.max_contributions ?? RISK_DEFAULTS.max_contributions,
    evidenceLimit: raw.evidence_limit ?? RISK_DEFAULTS.evidence_limit,
  };
}
