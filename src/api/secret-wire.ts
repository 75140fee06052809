import type { SecretInfo, SecretSandboxBinding } from '../sdk/types.js';
import type { SecretBinding } from '../store/sandboxes.js';
import type { SecretRecord } from '../store/secrets.js';

/** A secret on the wire (docs/contract.md#secret-info): absent provider and last use are omitted. */
export function toSecretInfo(secret: SecretRecord): SecretInfo {
  return {
    id: secret.id,
    name: secret.name,
    auth_type: secret.authType,
    auth_config: { ...secret.authConfig },
    ...(secret.provider !== null && { provider_shortcut: secret.provider }),
    hosts: [...secret.hosts],
    created_at: secret.createdAt,
    updated_at: secret.updatedAt,
    ...(secret.lastUsedAt !== null && { last_used_at: secret.lastUsedAt }),
  };
}

/** `GET /secrets/{name}/sandboxes` item. */
export function toSecretSandboxBinding(binding: SecretBinding): SecretSandboxBinding {
  return { sandbox_id: binding.sandboxId, sandbox_name: binding.sandboxName, env_key: binding.envKey, status: binding.status };
}
