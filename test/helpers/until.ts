/**
 * Polls `probe` every 50 ms until it returns something other than undefined, for at most `ms`
 * (default 3 s: audit rows land within the ≤ 1 s flush interval). Throws `what` on timeout.
 */
export async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 3000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
