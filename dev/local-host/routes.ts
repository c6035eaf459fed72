import { GUID_PATTERN } from '../../shared/domain/ids';

/**
 * HTTP trigger route templates as the Functions host reads them (ASP.NET route syntax, the subset functions
 * use): literal segments, `{name}`, optional `{name?}`, constrained `{name:int}` / `{name:guid}` / `{name:alpha}`
 * / `{name:bool}` / `{name:long}`, and a trailing catch-all `{*name}`. Matching is case-insensitive for literals,
 * like the host's.
 */

type Segment =
  | { kind: 'literal'; value: string }
  | { kind: 'param'; name: string; optional: boolean; constraint: string | undefined }
  | { kind: 'catchAll'; name: string };

export interface RouteTemplate {
  template: string;
  segments: Segment[];
}

const CONSTRAINTS: Record<string, RegExp> = {
  int: /^-?\d+$/,
  long: /^-?\d+$/,
  guid: new RegExp(`^${GUID_PATTERN}$`),
  alpha: /^[A-Za-z]+$/,
  bool: /^(true|false)$/i,
};

export function parseRoute(template: string): RouteTemplate {
  const trimmed = template.replace(/^\/+|\/+$/g, '');
  const parts = trimmed === '' ? [] : trimmed.split('/');
  const segments = parts.map((part, index): Segment => {
    const m = /^\{(\*)?([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z]+))?(\?)?\}$/.exec(part);
    if (!m) {
      if (part.includes('{') || part.includes('}')) {
        throw new Error(`Route "${template}": segment "${part}" mixes literal text and parameters, which the local host does not support`);
      }
      return { kind: 'literal', value: part };
    }
    const [, star, name, constraint, optional] = m;
    if (star) {
      if (index !== parts.length - 1) throw new Error(`Route "${template}": catch-all {*${name}} must be the last segment`);
      return { kind: 'catchAll', name: name! };
    }
    if (constraint && !CONSTRAINTS[constraint.toLowerCase()]) {
      throw new Error(
        `Route "${template}": constraint "${constraint}" is not supported (use one of ${Object.keys(CONSTRAINTS).join(', ')})`,
      );
    }
    return { kind: 'param', name: name!, optional: Boolean(optional), constraint: constraint?.toLowerCase() };
  });
  segments.forEach((s, i) => {
    if (
      s.kind === 'param' &&
      s.optional &&
      segments.slice(i + 1).some((later) => later.kind !== 'catchAll' && !(later.kind === 'param' && later.optional))
    ) {
      throw new Error(`Route "${template}": optional parameter {${s.name}?} must not be followed by required segments`);
    }
  });
  return { template, segments };
}

/** Route parameters when `path` (without the route prefix, already URL-decoded per segment) matches; else undefined. */
export function matchRoute(route: RouteTemplate, pathSegments: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  let i = 0;
  for (const segment of route.segments) {
    const value = pathSegments[i];
    if (segment.kind === 'catchAll') {
      const rest = pathSegments.slice(i);
      if (rest.length > 0) params[segment.name] = rest.join('/');
      return params;
    }
    if (value === undefined) {
      if (segment.kind === 'param' && segment.optional) continue;
      return undefined;
    }
    if (segment.kind === 'literal') {
      if (segment.value.toLowerCase() !== value.toLowerCase()) return undefined;
    } else {
      const rule = segment.constraint ? CONSTRAINTS[segment.constraint] : undefined;
      if (rule && !rule.test(value)) return undefined;
      params[segment.name] = value;
    }
    i++;
  }
  return i === pathSegments.length ? params : undefined;
}

/** Splits a request path into decoded segments; undefined when a segment is not valid percent-encoding. */
export function splitPath(pathname: string): string[] | undefined {
  const trimmed = pathname.replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return [];
  try {
    return trimmed.split('/').map((s) => decodeURIComponent(s));
  } catch {
    return undefined;
  }
}
