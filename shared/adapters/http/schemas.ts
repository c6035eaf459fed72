import { z } from 'zod';

/**
 * The response shapes the sync engine relies on. Both BC and Dataverse speak OData v4 JSON; anything else
 * (an HTML error page from a proxy, a truncated body) must fail loudly here rather than deep in the engine.
 */

/** `{"error":{"code":"…","message":"…"}}`: BC (C.6) and Dataverse (B.11). Dataverse's code is often empty. */
export const odataErrorSchema = z.looseObject({
  error: z.looseObject({
    code: z.string().nullish(),
    message: z.string().nullish(),
  }),
});

export type ODataErrorBody = z.infer<typeof odataErrorSchema>;

export const entitySchema = z.record(z.string(), z.unknown());

export type ODataEntity = z.infer<typeof entitySchema>;

export const collectionSchema = z.looseObject({
  value: z.array(entitySchema),
  '@odata.nextLink': z.string().optional(),
  '@odata.deltaLink': z.string().optional(),
});

export type ODataCollection = z.infer<typeof collectionSchema>;

/** A single entity as returned by GET/POST/PATCH with a representation: must carry its ETag. */
export const etaggedEntitySchema = z.looseObject({
  '@odata.etag': z.string().min(1),
});
