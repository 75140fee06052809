/** The anthropic catalogue entry as GET /providers lists it: what both toWire and the API must give. */
export const ANTHROPIC_WIRE = {
  name: 'anthropic',
  display: 'Anthropic',
  auth_type: 'api-key',
  auth_config: { header: 'x-api-key' },
  hosts: ['api.anthropic.com'],
  token_shape: 'sk-ant-api03-...',
};
