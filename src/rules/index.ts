export { RuleTable, type RuleTableOptions } from './rule-table.js';
export { StandInPolicy, type StandInPolicyOptions } from './stand-in-policy.js';
export type { EgressDecision } from './network-policy.js';
export type { BindingRecord, BindingRevocation, NetworkPolicyRecord, RuleSource, SandboxRuleRecord, SecretRuleRecord, StoreChange } from './source.js';
