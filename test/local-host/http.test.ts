import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFunctionsHost } from '../../dev/local-host/host';

const fixture = path.join(__dirname, 'fixtures', 'http-functions.ts');

describe('local Functions host: HTTP triggers', () => {
  let host: LocalFunctionsHost;
  const logs: string[] = [];

  beforeAll(async () => {
    host = await new LocalFunctionsHost({
      modules: [fixture],
      port: 0,
      // The enqueue function's output needs a connection setting at index time; no message is sent in this file.
      env: { SERVICEBUS_CONNECTION: 'Endpoint=sb://127.0.0.1:1;SharedAccessKeyName=k;SharedAccessKey=v;UseDevelopmentEmulator=true;' },
      functionKey: 'test-function-key',
      masterKey: 'test-master-key',
      maxRequestBodyBytes: 1024,
      log: (e) => logs.push(`${e.level} ${e.message}`),
    }).start();
  });
  afterAll(async () => {
    await host?.stop();
  });

  it('passes route parameters, query, headers and body through the library HttpRequest', async () => {
    const res = await fetch(`${host.apiUrl('items/42/lines')}?filter=open&tag=a&tag=b`, {
      method: 'POST',
      headers: { 'x-custom': 'yes', 'content-type': 'text/plain' },
      body: 'payload',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-invocation-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(await res.json()).toEqual({
      method: 'POST',
      params: { id: '42', part: 'lines' },
      filter: 'open',
      tags: 'a,b',
      header: 'yes',
      body: 'payload',
      functionName: 'echoItem',
    });
  });

  it('matches optional parameters and constraints', async () => {
    const withoutPart = await fetch(host.apiUrl('items/7'));
    expect(withoutPart.status).toBe(200);
    expect(((await withoutPart.json()) as { params: unknown }).params).toEqual({ id: '7' });
    // {id:int} does not match a word, so nothing serves the path.
    expect((await fetch(host.apiUrl('items/seven'))).status).toBe(404);
  });

  it('answers 404 for unknown routes and paths outside the route prefix', async () => {
    const res = await fetch(host.apiUrl('does-not-exist'));
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 'Not Found' });
    expect((await fetch(`${host.baseUrl}/items/1`)).status).toBe(404);
  });

  it('answers 405 with Allow for a known route and a wrong method', async () => {
    const res = await fetch(host.apiUrl('items/1'), { method: 'DELETE' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, POST');
  });

  it('requires the function key for authLevel function (header or code), and the master key for admin', async () => {
    expect((await fetch(host.apiUrl('secured/ann'))).status).toBe(401);
    expect((await fetch(host.apiUrl('secured/ann'), { headers: { 'x-functions-key': 'wrong-key-value' } })).status).toBe(401);
    const viaHeader = await fetch(host.apiUrl('secured/ann'), { headers: { 'x-functions-key': 'test-function-key' } });
    expect(viaHeader.status).toBe(200);
    expect(await viaHeader.text()).toBe('hello ann');
    const viaCode = await fetch(`${host.apiUrl('secured')}?code=test-function-key`);
    expect(viaCode.status).toBe(200);
    expect(await viaCode.text()).toBe('hello anonymous');
    // The master key opens function-level routes too, as in Azure.
    expect((await fetch(host.apiUrl('secured'), { headers: { 'x-functions-key': 'test-master-key' } })).status).toBe(200);

    expect((await fetch(host.apiUrl('admin-only'), { headers: { 'x-functions-key': 'test-function-key' } })).status).toBe(401);
    const admin = await fetch(host.apiUrl('admin-only'), { headers: { 'x-functions-key': 'test-master-key' } });
    expect(admin.status).toBe(202);
  });

  it('rejects bodies over the limit with 413, declared or streamed', async () => {
    const declared = await fetch(host.apiUrl('items/1'), { method: 'POST', body: 'x'.repeat(2048) });
    expect(declared.status).toBe(413);
    const chunked = await fetch(host.apiUrl('items/1'), {
      method: 'POST',
      body: new ReadableStream({
        start(controller) {
          for (let i = 0; i < 4; i++) controller.enqueue(new TextEncoder().encode('y'.repeat(512)));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    // At the limit is accepted.
    expect((await fetch(host.apiUrl('items/1'), { method: 'POST', body: 'z'.repeat(1024) })).status).toBe(200);
  });

  it('turns a handler throw into 500 with a short JSON error and no stack or message', async () => {
    const res = await fetch(host.apiUrl('boom'));
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({ error: 'Internal Server Error', invocationId: expect.any(String) });
    expect(text).not.toContain('secret internal detail');
    expect(text).not.toContain('at ');
    expect(host.invocations('boom').at(-1)).toMatchObject({ succeeded: false, error: expect.stringContaining('secret internal detail') });
  });

  it('answers 204 when the handler returns nothing', async () => {
    const res = await fetch(host.apiUrl('nothing'), { method: 'DELETE' });
    expect(res.status).toBe(204);
  });

  it('names the port when it is already taken', async () => {
    const second = new LocalFunctionsHost({ port: host.port, functions: ['echoItem'], log: () => undefined });
    await expect(second.start()).rejects.toThrow(`port ${host.port}`);
  });
});
