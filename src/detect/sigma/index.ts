/** Public entry points of the Sigma engine. */
export { compileRuleSet, defaultMappingFile, loadMapping, loadSigmaRules } from './load.js';
export type { SigmaLoadResult, SigmaLoadStats, SigmaOptions } from './load.js';
export { SigmaStage, DEFAULT_ALLOWED_LATENESS_MS } from './stage.js';
export type { SigmaSnapshot } from './state.js';
export { parseMapping } from './mapping.js';
export type { SigmaMapping } from './mapping.js';
export type { RuleSetWarning, RuleSource } from './ruleset.js';
export { RISK_SCORES } from './explain.js';
