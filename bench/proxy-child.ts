// A proxy under test in its own process, so its CPU and memory are measured alone.
// Spawned by proxy-vs-direct.ts with an IPC channel, as plain JavaScript (see build.ts): node proxy-child.js <mode>
// Parent → child: { type: 'start', target: BenchTarget } | { type: 'stats', gc?: boolean } | { type: 'stop' }
// Child → parent: { type: 'ready', port, caPem, proxyAuthorization?, headers?, transparent? } | { type: 'stats', cpuUs, eventLoopCpuUs, rss, live }
//   | { type: 'error', message }
import { childStats } from './child-stats.js';
import type { BenchProxy, BenchTarget } from './proxy-modes.js';
import { PROXY_MODES } from './proxy-modes.js';

type Message = { type: 'start'; target: BenchTarget } | { type: 'stats'; gc?: boolean } | { type: 'stop' };

const mode = process.argv[2] ?? 'credproxy';
const factory = PROXY_MODES[mode];
let proxy: BenchProxy | undefined;

process.on('message', (message: Message) => {
  void handle(message).catch((err: Error) => process.send!({ type: 'error', message: err.message }));
});

async function handle(message: Message): Promise<void> {
  switch (message.type) {
    case 'start': {
      if (!factory) throw new Error(`unknown mode ${mode}; known: ${Object.keys(PROXY_MODES).join(', ')}`);
      proxy = await factory(message.target);
      const { port, caPem, proxyAuthorization, headers, transparent } = proxy;
      process.send!({ type: 'ready', port, caPem, proxyAuthorization, headers, transparent });
      return;
    }
    case 'stats':
      process.send!({ type: 'stats', ...childStats(message.gc ?? false) });
      return;
    case 'stop':
      await proxy?.close();
      process.exit(0);
  }
}
