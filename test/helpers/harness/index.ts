// The one test harness: the real daemon in-process (daemon.ts) or its real listeners
// (listeners.ts), a spawned `credproxy serve` (spawned.ts) and a fleet of them (fleet.ts), each in
// front of real echo upstreams with their own test CA (world.ts), all on 127.0.0.1 port 0, each
// stopped by one close() (cleanup.ts). fleet.ts is imported on its own: it loads the PostgreSQL client.
export * from './admin-client.js';
export * from './cleanup.js';
export * from './daemon.js';
export * from './eventually.js';
export * from './logs.js';
export * from './listeners.js';
export * from './proxy-client.js';
export * from './spawned.js';
export * from './world.js';
