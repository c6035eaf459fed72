import { createHash } from 'node:crypto';

/** A stable GUID derived from a name, so demo data and generated records keep their ids across runs. */
export function detGuid(name: string): string {
  const h = createHash('sha1').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Fast deterministic GUID for bulk seeding (no hashing): a namespace prefix plus a counter. */
export function seqGuid(namespace: number, n: number): string {
  const ns = namespace.toString(16).padStart(8, '0');
  const tail = n.toString(16).padStart(12, '0');
  return `${ns}-0000-4000-8000-${tail}`;
}
