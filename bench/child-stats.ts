// What a benchmarked child process reports about itself: CPU (every thread and the event loop's
// own), RSS and what it still holds. Shared by proxy-child.ts and seeded-daemon-child.ts.
import { readFileSync } from 'node:fs';

export interface ChildStats {
  /** User + system CPU time since the child started, µs: every thread. */
  cpuUs: number;
  /**
   * CPU time of the main thread alone, µs: the event loop, which bounds a Node proxy's throughput.
   * Undefined where /proc/thread-self/schedstat is not available (Linux only).
   */
  eventLoopCpuUs: number | undefined;
  rss: number;
  /** V8 heap in use plus Buffers: what the process still holds. */
  live: number;
  /** V8 heap committed, used or not. */
  heapTotal: number;
}

/** This process's figures now; `gc` collects first (the child runs with --expose-gc). */
export function childStats(gc: boolean): ChildStats {
  if (gc) (globalThis as { gc?: () => void }).gc?.();
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  return {
    cpuUs: cpu.user + cpu.system,
    eventLoopCpuUs: eventLoopCpuUs(),
    rss: memory.rss,
    live: memory.heapUsed + memory.arrayBuffers,
    heapTotal: memory.heapTotal,
  };
}

/** CPU time of this thread, the event loop, in µs: the first field of schedstat is ns on a CPU. */
function eventLoopCpuUs(): number | undefined {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1000;
  } catch {
    return undefined;
  }
}
