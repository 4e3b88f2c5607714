export type { Action, ActionVerb } from './action.ts';
export type { ContentCheck, ContentInspection, ContentRules, ContentVerdict, RuleFinding } from './inspect.ts';
export { inspectMessage, inspectMessageSync } from './inspect.ts';
export type { TableMatch } from './match-table.ts';
export { matchTable } from './match-table.ts';
export type { CompiledPattern, PatternFlags } from './pattern.ts';
export { compilePattern, PatternError } from './pattern.ts';
export type { RuleEntry, RuleTable } from './rule-file.ts';
export { ContentRuleError, parseRuleFile, readRuleFile } from './rule-file.ts';
