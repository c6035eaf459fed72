import type { z } from 'zod';
import type { HttpRequest } from '../http/client';
import { responseShapeError } from '../http/errors';

/** A Dataverse response body read through its schema; a body of another shape is `responseShapeError`. */
export function parseWith<T>(req: HttpRequest, body: unknown, schema: z.ZodType<T>): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw responseShapeError('dataverse', req, parsed.error.message.slice(0, 300));
  return parsed.data;
}
