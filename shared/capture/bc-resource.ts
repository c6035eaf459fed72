import { z } from 'zod';
import { GUID_PATTERN } from '../domain/ids';

/**
 * BC webhook `resource` strings (api-contracts.md D.4): the subscription's resource URL, plus `(<key>)` for one
 * record or `?$filter=lastModifiedDateTime gt <instant>` for a collection. The documentation's own samples mix
 * a leading `/` and none, and subscriptions may use absolute URLs, so all three forms are accepted.
 */

export interface BcResource {
  /** API route: `v2.0`, or `<publisher>/<group>/<version>` for custom API pages. */
  group: string;
  /** Company SystemId, lower case. */
  companyId: string;
  entitySet: string;
  /** The record key inside `(…)`, unquoted; absent for the collection. */
  key?: string;
  /** Decoded `$filter` of a collection notification, when any. */
  filter?: string;
  /** The instant of a `lastModifiedDateTime gt <instant>` filter (ISO), when the filter is exactly that. */
  modifiedSince?: string;
  /** `group/companies(id)/entitySet`: what the clientState is derived from. */
  canonical: string;
}

const PATH = new RegExp(
  String.raw`(?:^|\/)api\/(v2\.0|[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+\/v\d+\.\d+)\/companies\((${GUID_PATTERN})\)\/([A-Za-z][A-Za-z0-9_]{0,127})(?:\(([^()]{1,300})\))?$`,
);

// BC writes `lastModifiedDateTime`; the documentation sample says `lastDateTimeModified` (a typo, D.4).
const SINCE = /^\s*(?:lastModifiedDateTime|lastDateTimeModified)\s+gt\s+(\S+)\s*$/;

/** Parses a resource; undefined when it is not an API page resource of a company. */
export function parseBcResource(resource: string): BcResource | undefined {
  let text = resource.trim();
  if (text.length === 0 || text.length > 4096) return undefined;
  if (/^https?:\/\//i.test(text)) {
    try {
      const u = new URL(text);
      text = `${u.pathname}${u.search}`;
    } catch {
      return undefined;
    }
  }
  const q = text.indexOf('?');
  const path = q < 0 ? text : text.slice(0, q);
  const query = q < 0 ? '' : text.slice(q + 1);
  const m = PATH.exec(path);
  if (!m) return undefined;
  const [, group = '', company = '', entitySet = ''] = m;
  const companyId = company.toLowerCase();
  const out: BcResource = { group, companyId, entitySet, canonical: `${group}/companies(${companyId})/${entitySet}` };
  const rawKey = m[4];
  if (rawKey !== undefined) {
    let key: string;
    try {
      key = decodeURIComponent(rawKey);
    } catch {
      return undefined;
    }
    if (key.startsWith("'")) {
      if (!key.endsWith("'") || key.length < 2) return undefined;
      key = key.slice(1, -1).replace(/''/g, "'");
    }
    out.key = key;
  }
  if (query) {
    if (rawKey !== undefined) return undefined;
    let params: URLSearchParams;
    try {
      params = new URLSearchParams(query);
    } catch {
      return undefined;
    }
    const filter = params.get('$filter');
    if (filter !== null) {
      out.filter = filter;
      const since = SINCE.exec(filter)?.[1];
      if (since !== undefined && z.iso.datetime({ offset: true }).safeParse(since).success) out.modifiedSince = since;
    }
  }
  return out;
}

/** The resource a subscription is created with: relative, with a leading `/`, as in the documented sample (D.1). */
export function subscriptionResource(group: string, companyId: string, entitySet: string): string {
  return `/api/${group}/companies(${companyId.toLowerCase()})/${entitySet}`;
}

/** `group/companies(id)/entitySet` of a subscription resource. */
export function canonicalResource(group: string, companyId: string, entitySet: string): string {
  return `${group}/companies(${companyId.toLowerCase()})/${entitySet}`;
}

/** The API route of a mapping's BC side, as it appears in resources (`v2.0` or the custom API route). */
export function bcGroupOf(kind: 'apiV2' | 'customApi' | 'odataPage', customApiGroup: string): string | undefined {
  if (kind === 'apiV2') return 'v2.0';
  if (kind === 'customApi') return customApiGroup;
  return undefined;
}
