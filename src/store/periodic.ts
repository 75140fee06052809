/**
 * Runs `task` once soon and then every `intervalMs`, on unref'd timers (a pending run never keeps
 * the process up), until stop(). For housekeeping sweeps that must not overlap a busy start-up.
 */
export function runPeriodically(task: () => Promise<void>, intervalMs: number): { stop(): void } {
  const first = setImmediate(() => void task());
  const timer = setInterval(() => void task(), intervalMs);
  first.unref();
  timer.unref();
  return {
    stop() {
      clearImmediate(first);
      clearInterval(timer);
    },
  };
}
