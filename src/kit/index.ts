export { kitEnvironment, type KitEnvOptions } from './kit-env.js';
export { KIT_FILES, prepareSandboxKit, TRUST_STORE_PASSWORD, writeSandboxKit, type HandedKit, type WriteKitOptions, type WrittenKit } from './sandbox-kit.js';
export { buildTrustStore } from './trust-store.js';
