/**
 * Polls `check` until it returns something other than undefined, or fails after the deadline. Polling every
 * 10 ms keeps the CPU free for the servers under test; the result never depends on the interval.
 */
export async function until<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * A fixture module by file name, as the same instance the host loaded (so tests read what the functions saw).
 * Typed by the caller because nodenext resolution wants extensions on dynamic imports.
 */
export async function fixture<T>(file: string): Promise<T> {
  return (await import(`${__dirname}/fixtures/${file}`)) as T;
}
