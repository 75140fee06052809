import { DomainError } from '../errors.js';
import { findProvider } from './providers.js';
import { mintAccessToken, mintStandIn } from './stand-in.js';

/**
 * What a sandbox may hold and how its tokens are made: the business rules both stores apply
 * (store/sandboxes.ts on SQLite, store/postgres/sandboxes.ts). The repositories are given them
 * rather than a service calling them first, because the binding cap has to be checked in the
 * same transaction as the insert that would exceed it (docs/decisions.md, "Domain errors and
 * layers").
 */
export interface SandboxRules {
  /** Most bindings one sandbox may hold. */
  readonly maxBindings: number;
  mintAccessToken(): string;
  /** A fresh stand-in for a secret with this provider shortcut; null for a custom secret. */
  mintStandIn(provider: string | null): string;
}

/** Superserve's: 32 bindings, provider-shaped stand-ins, 256-bit access tokens (secrets/stand-in.ts). */
export const SANDBOX_RULES: SandboxRules = {
  maxBindings: 32,
  mintAccessToken,
  mintStandIn: (provider) => mintStandIn(provider === null ? undefined : findProvider(provider)),
};

/** Refuses a new binding (`binding_limit`) when `occupied` bindings already fill the sandbox. */
export function checkBindingRoom(rules: SandboxRules, occupied: number): void {
  if (occupied >= rules.maxBindings) throw new DomainError('binding_limit', { max: rules.maxBindings });
}
