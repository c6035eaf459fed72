import { describe, expect, it } from 'vitest';
import { ConfigError, parseSettings } from '../../shared/config';

const base = {
  SERVICEBUS_CONNECTION: 'Endpoint=sb://127.0.0.1/;SharedAccessKeyName=k;SharedAccessKey=v',
  TABLES_CONNECTION: 'UseDevelopmentStorage=true',
  BC_TENANT_ID: 'tenant',
  BC_ENVIRONMENT: 'production',
  BC_COMPANY_ID: '11111111-1111-4111-8111-111111111111',
  BC_AUTH: 'static-token',
  BC_STATIC_TOKEN: 'x',
  BC_WEBHOOK_SECRET: 'a-webhook-secret-of-16+',
  DATAVERSE_URL: 'http://127.0.0.1:1',
  DATAVERSE_AUTH: 'static-token',
  DATAVERSE_STATIC_TOKEN: 'x',
  DATAVERSE_WEBHOOK_KEY: 'a-webhook-key-of-16+chars',
  PUBLIC_BASE_URL: 'http://127.0.0.1:7071',
};

describe('sales order integration settings', () => {
  it('legacy with automatic creation is the default', () => {
    const s = parseSettings(base);
    expect(s.SALES_ORDER_INTEGRATION).toBe('legacy');
    expect(s.AUTO_CREATE_SALES_ORDERS).toBe(true);
  });

  it('refuses automatic (legacy) creation together with bidirectional sales orders, naming the setting', () => {
    const run = () => parseSettings({ ...base, SALES_ORDER_INTEGRATION: 'bidirectional', AUTO_CREATE_SALES_ORDERS: 'true' });
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(/AUTO_CREATE_SALES_ORDERS: .*mutually exclusive/);
  });

  it('accepts bidirectional with automatic creation off or unset', () => {
    expect(
      parseSettings({ ...base, SALES_ORDER_INTEGRATION: 'bidirectional', AUTO_CREATE_SALES_ORDERS: 'false' }).SALES_ORDER_INTEGRATION,
    ).toBe('bidirectional');
    expect(parseSettings({ ...base, SALES_ORDER_INTEGRATION: 'bidirectional' }).SALES_ORDER_INTEGRATION).toBe('bidirectional');
  });

  it('refuses an unknown mode and an unknown write-in type', () => {
    expect(() => parseSettings({ ...base, SALES_ORDER_INTEGRATION: 'both' })).toThrow(/SALES_ORDER_INTEGRATION/);
    expect(() => parseSettings({ ...base, WRITE_IN_PRODUCT_TYPE: 'G/L Account' })).toThrow(/WRITE_IN_PRODUCT_TYPE/);
  });
});
