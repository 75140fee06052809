export { ProxyServer, type ProxyServerOptions } from './server.js';
export { ProxyEvents, type ConnectionEvent, type ProxyEventMap, type RequestEvent } from './events.js';
export {
  PASS_THROUGH_POLICY,
  type CredentialMatch,
  type EchoScrubber,
  type InjectionResult,
  type ProxyPolicy,
  type RequestTarget,
  type SandboxIdentity,
} from './policy.js';
export { classifyAddress, type AddressClass } from './address-class.js';
export type { ProtectedAddress } from './egress.js';
