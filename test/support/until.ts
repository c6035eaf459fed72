/**
 * The one way tests wait: polls `check` until it returns a value other than undefined or false, and returns that
 * value; after the deadline it fails naming `what` and the last error `check` threw. Never a fixed sleep.
 * `options` is the timeout in milliseconds (default 20 s), or `{ timeoutMs, intervalMs }` (poll interval default
 * 20 ms, short enough not to slow a test, long enough to leave the CPU to the servers under test).
 */
export async function until<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  options: number | { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const { timeoutMs = 20_000, intervalMs = 20 } = typeof options === 'number' ? { timeoutMs: options } : options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const cause = lastError === undefined ? '' : ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
