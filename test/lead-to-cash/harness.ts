import { expect } from 'vitest';
import { DEFAULT_LOCAL_MASTER_KEY } from '../../dev/local-host/host';
import type { Runtime } from '../../shared/runtime';
import { eventBuilder } from '../support/events';
import type { Stack } from '../support/stack';

/** Small HTTP helpers over both simulators and the local host, shared by the lead-to-cash suites. */
export function harness(stack: () => Stack, rt: () => Runtime) {
  const bcHeaders = { Authorization: 'Bearer lead-to-cash', 'Content-Type': 'application/json' };
  const dvHeaders = () => ({
    Authorization: `Bearer ${stack().dataverse.adminUserToken}`,
    'Content-Type': 'application/json',
    Accept: 'application/json',
    'OData-Version': '4.0',
  });
  const bcUrl = (entitySet: string, custom: boolean) => `${custom ? stack().bc.customApiBase() : stack().bc.apiBase()}/${entitySet}`;
  const h = {
    async bcList(entitySet: string, filter?: string, custom = false): Promise<Array<Record<string, unknown>>> {
      const q = filter ? `?$filter=${encodeURIComponent(filter)}` : '';
      const res = await fetch(`${bcUrl(entitySet, custom)}${q}`, { headers: bcHeaders });
      expect(res.status, `GET ${entitySet} ${filter ?? ''}`).toBe(200);
      return ((await res.json()) as { value: Array<Record<string, unknown>> }).value;
    },
    async bcOne(entitySet: string, filter: string, custom = false): Promise<Record<string, unknown>> {
      const rows = await h.bcList(entitySet, filter, custom);
      expect(rows, `${entitySet} ${filter}`).toHaveLength(1);
      return rows[0] as Record<string, unknown>;
    },
    async bcPost(entitySet: string, body: unknown, custom = false): Promise<Record<string, unknown>> {
      const res = await fetch(bcUrl(entitySet, custom), { method: 'POST', headers: bcHeaders, body: JSON.stringify(body) });
      const json = (await res.json()) as Record<string, unknown>;
      expect(res.status, JSON.stringify(json)).toBe(201);
      return json;
    },
    async bcPatch(entitySet: string, id: string, body: unknown, custom = false): Promise<Record<string, unknown>> {
      const get = await fetch(`${bcUrl(entitySet, custom)}(${id})`, { headers: bcHeaders });
      const etag = String(((await get.json()) as Record<string, unknown>)['@odata.etag']);
      const res = await fetch(`${bcUrl(entitySet, custom)}(${id})`, {
        method: 'PATCH',
        headers: { ...bcHeaders, 'If-Match': etag },
        body: JSON.stringify(body),
      });
      const json = (await res.json()) as Record<string, unknown>;
      expect(res.status, JSON.stringify(json)).toBe(200);
      return json;
    },
    async sim(path: string, body: unknown): Promise<void> {
      const res = await fetch(`${stack().bc.url}/_sim/${path}`, { method: 'POST', headers: bcHeaders, body: JSON.stringify(body) });
      expect(res.status, await res.clone().text()).toBeLessThan(300);
    },
    async dvGet(path: string): Promise<Record<string, unknown> & { value?: Array<Record<string, unknown>> }> {
      const res = await fetch(`${stack().dataverse.apiBase}/${path}`, { headers: dvHeaders() });
      expect(res.status, path).toBe(200);
      return (await res.json()) as Record<string, unknown> & { value?: Array<Record<string, unknown>> };
    },
    async dvWrite(method: 'POST' | 'PATCH', path: string, body: unknown): Promise<void> {
      const res = await fetch(`${stack().dataverse.apiBase}/${path}`, {
        method,
        headers: { ...dvHeaders(), ...(method === 'PATCH' ? { 'If-Match': '*' } : {}) },
        body: JSON.stringify(body),
      });
      expect(res.status, await res.clone().text()).toBeLessThan(300);
    },
    async admin(path: string, method = 'POST'): Promise<{ status: number; body: Record<string, unknown> }> {
      const res = await fetch(stack().host.apiUrl(path), { method, headers: { 'x-functions-key': DEFAULT_LOCAL_MASTER_KEY } });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    },
    event: eventBuilder('l2c', { origin: 'manual' }),
    /** An admin's manual coupling ("Couple to Dynamics 365 Sales"), as the coupling page does it. */
    async couple(mapping: string, bcId: string, dataverseId: string): Promise<void> {
      await rt().stores.couplings.couple({
        mapping,
        bcId: bcId.toLowerCase(),
        dataverseId: dataverseId.toLowerCase(),
        lastResult: 'coupled',
        lastSyncedAt: new Date().toISOString(),
        environment: rt().environment,
      });
    },
    /** Adds match criteria to a stored mapping, as an admin does before coupling. */
    async matchBy(mapping: string, bcField: string, dataverseColumn: string): Promise<void> {
      const m = await rt().stores.mappings.get(mapping);
      if (!m) throw new Error(`${mapping} mapping missing`);
      await rt().stores.mappings.put({
        ...m,
        couplingRules: { ...m.couplingRules, matchFields: [{ bcField, dataverseColumn, priority: 0, caseSensitive: false }] },
      });
    },
  };
  return h;
}
