import { describe, expect, it } from 'vitest';
import { ConfigError, parseSettings, REQUIRED_SETTING_NAMES, SETTING_NAMES } from '../../shared/config';

const valid = {
  SERVICEBUS_CONNECTION:
    'Endpoint=sb://127.0.0.1:5672;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;',
  TABLES_CONNECTION: 'UseDevelopmentStorage=true',
  BC_TENANT_ID: 'local',
  BC_ENVIRONMENT: 'Production',
  BC_COMPANY_ID: '11111111-2222-3333-4444-555555555555',
  BC_AUTH: 'static-token',
  BC_STATIC_TOKEN: 'local-token',
  BC_WEBHOOK_SECRET: 'a-local-secret-of-some-length',
  DATAVERSE_URL: 'http://127.0.0.1:7073',
  DATAVERSE_AUTH: 'static-token',
  DATAVERSE_STATIC_TOKEN: 'local-token',
  DATAVERSE_WEBHOOK_KEY: 'another-local-secret-value',
  PUBLIC_BASE_URL: 'http://127.0.0.1:7071',
};

describe('settings', () => {
  it('parses a complete local environment and fills documented defaults', () => {
    const s = parseSettings(valid);
    expect(s.BC_API_URL).toBe('https://api.businesscentral.dynamics.com');
    expect(s.OWNERSHIP_MODEL).toBe('Person');
    expect(s.RECONCILE_SCHEDULE).toBe('0 */5 * * * *');
    expect(s.SALES_INTEGRATION).toBe(true);
    expect(s.BC_MAX_CONCURRENCY).toBe(5);
  });

  it('names every missing and invalid setting in one error', () => {
    const env: Record<string, string> = { ...valid, BC_COMPANY_ID: 'not-a-guid', DATAVERSE_URL: 'nope', RECONCILE_SCHEDULE: '*/5 * * * *' };
    delete env.BC_TENANT_ID;
    delete env.SERVICEBUS_CONNECTION;
    let error: unknown;
    try {
      parseSettings(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const name of ['BC_COMPANY_ID', 'DATAVERSE_URL', 'RECONCILE_SCHEDULE', 'BC_TENANT_ID: is required', 'SERVICEBUS_CONNECTION']) {
      expect(problems).toContain(name);
    }
    expect((error as ConfigError).problems).toHaveLength(5);
  });

  it('requires the credentials that the chosen auth mode needs', () => {
    expect(() => parseSettings({ ...valid, BC_AUTH: 'client-secret' })).toThrow(/BC_CLIENT_ID: required when BC_AUTH=client-secret/);
    expect(() => parseSettings({ ...valid, DATAVERSE_AUTH: 'static-token', DATAVERSE_STATIC_TOKEN: '' })).toThrow(/DATAVERSE_STATIC_TOKEN/);
    const s = parseSettings({
      ...valid,
      SERVICEBUS_CONNECTION: '',
      SERVICEBUS_CONNECTION__fullyQualifiedNamespace: 'sb-x.servicebus.windows.net',
      BC_AUTH: 'managed-identity',
    });
    expect(s.SERVICEBUS_CONNECTION).toBeUndefined();
  });

  it('lists setting names, with the required ones among them', () => {
    expect(SETTING_NAMES).toContain('BC_COMPANY_ID');
    expect(REQUIRED_SETTING_NAMES).toEqual(
      expect.arrayContaining([
        'BC_TENANT_ID',
        'BC_ENVIRONMENT',
        'BC_COMPANY_ID',
        'DATAVERSE_URL',
        'PUBLIC_BASE_URL',
        'BC_WEBHOOK_SECRET',
        'DATAVERSE_WEBHOOK_KEY',
      ]),
    );
    expect(REQUIRED_SETTING_NAMES).not.toContain('OWNERSHIP_MODEL');
  });
});
