/**
 * host.json as the local host reads it: the route prefix, `functionTimeout` and the Service Bus extension settings
 * apply; other keys are allowed and ignored, as the real host ignores what it does not know.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** `hh:mm:ss` (or `d.hh:mm:ss`) TimeSpan as host.json writes durations. */
const timeSpan = z.string().regex(/^(\d+\.)?\d{1,2}:\d{2}:\d{2}(\.\d+)?$/, 'must be a TimeSpan like 00:05:00');

const hostJsonSchema = z.looseObject({
  version: z.literal('2.0'),
  functionTimeout: timeSpan.optional(),
  extensions: z
    .looseObject({
      http: z.looseObject({ routePrefix: z.string().optional() }).optional(),
      serviceBus: z
        .looseObject({
          maxAutoLockRenewalDuration: timeSpan.optional(),
          autoCompleteMessages: z.boolean().optional(),
          maxConcurrentCalls: z.int().min(1).optional(),
        })
        .optional(),
    })
    .optional(),
});
export type HostJson = z.infer<typeof hostJsonSchema>;

export function timeSpanToMs(value: string): number {
  const m = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(\.\d+)?$/.exec(value);
  if (!m) throw new Error(`not a TimeSpan: ${value}`);
  const [, days, h, min, s, frac] = m;
  return ((Number(days ?? 0) * 24 + Number(h)) * 3600 + Number(min) * 60 + Number(s) + Number(frac ?? 0)) * 1000;
}

export function readHostJson(path: string): HostJson {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`host.json at ${path} could not be read: ${err instanceof Error ? err.message : String(err)}`);
  }
  const parsed = hostJsonSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`host.json at ${path} is invalid:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}
