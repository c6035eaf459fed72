import { describe, expect, it } from 'vitest';
import { REDACTED, redact, redactText } from '../../shared/adapters/tables/redact';

/** Audit finding 12: the Dataverse webhook key reached stored errors through `?webhookkey=` and `authvalue`. */
describe('redaction of the Dataverse webhook key', () => {
  const key = 'dv-webhook-key-5d1e9c0a';

  it('masks the key in a webhook URL (HttpQueryString auth) and keeps the rest', () => {
    const text = `POST https://sync.example.com/api/webhooks/dataverse?webhookkey=${key}&x=1 answered 503`;
    const out = redactText(text);
    expect(out).not.toContain(key);
    expect(out).toBe(`POST https://sync.example.com/api/webhooks/dataverse?webhookkey=${REDACTED}&x=1 answered 503`);
    expect(redactText(`...dataverse?WebhookKey=${key}`)).not.toContain(key);
  });

  it('masks a service endpoint authvalue, as a property and inside serialized text', () => {
    const endpoint = { name: 'bc-dataverse-sync', authtype: 6, authvalue: key, url: 'https://sync.example.com' };
    expect(redact(endpoint)).toEqual({ ...endpoint, authvalue: REDACTED });
    const message = `Dataverse refused ${JSON.stringify(endpoint)}`;
    expect(redactText(message)).not.toContain(key);
    expect(redactText(message)).toContain('"url":"https://sync.example.com"');
  });

  it('masks the key sent as a header (HttpHeader auth)', () => {
    expect(redactText(`headers: x-dataverse-webhook-key: ${key}; accept: */*`)).not.toContain(key);
    expect(redact({ headers: { 'x-dataverse-webhook-key': key } })).toEqual({ headers: { 'x-dataverse-webhook-key': REDACTED } });
  });
});
