/**
 * Polls `probe` every 50 ms until it returns something other than undefined or false, and resolves
 * with that, for at most `ms` (default 3 s: audit rows land within the ≤ 1 s flush interval).
 * Throws naming `what` on timeout.
 */
export async function eventually<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, ms = 3000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
