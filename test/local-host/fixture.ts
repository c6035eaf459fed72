/**
 * A fixture module by file name, as the same instance the host loaded (so tests read what the functions saw).
 * Typed by the caller because nodenext resolution wants extensions on dynamic imports.
 */
export async function fixture<T>(file: string): Promise<T> {
  return (await import(`${__dirname}/fixtures/${file}`)) as T;
}
