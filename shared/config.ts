import { z } from 'zod';
import { guidSchema } from './domain/ids';

/**
 * Every setting the service reads, in one place. The names are the app settings in Azure (Bicep sets exactly
 * these), the `Values` of `local.settings.sample.json`, and the table in the README.
 *
 * Connections follow the Functions identity-based convention: either a connection string in `<NAME>` (local
 * emulators) or `<NAME>__fullyQualifiedNamespace` / `<NAME>__tableServiceUri` with `<NAME>__credential=managedidentity`
 * and `<NAME>__clientId` (Azure, user-assigned managed identity).
 */

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');

const url = z.url({ protocol: /^https?$/ });
const guid = guidSchema;

/** NCRONTAB with six fields (seconds first), as Azure Functions timers use. */
const ncrontab = z
  .string()
  .refine((v) => v.trim().split(/\s+/).length === 6, 'must be an NCRONTAB expression with 6 fields (seconds first)');

const authMode = z.enum(['managed-identity', 'client-secret', 'client-certificate', 'static-token']);

export const settingsSchema = z.object({
  // --- Azure plumbing -------------------------------------------------------------------------------
  /** Service Bus connection string (local endpoint / emulator). Either this or the namespace is required. */
  SERVICEBUS_CONNECTION: z.string().min(1).optional(),
  /** Service Bus namespace host name for identity-based connections, e.g. `sb-xyz.servicebus.windows.net`. */
  SERVICEBUS_CONNECTION__fullyQualifiedNamespace: z.string().min(1).optional(),
  /** Table Storage connection string (Azurite locally). Either this or the table service URI is required. */
  TABLES_CONNECTION: z.string().min(1).optional(),
  /** Table service URI for identity-based access, e.g. `https://stxyz.table.core.windows.net`. */
  TABLES_CONNECTION__tableServiceUri: url.optional(),
  /** Client id of the user-assigned managed identity used for Service Bus, Tables and Key Vault. */
  AZURE_CLIENT_ID: guid.optional(),
  /** Prefix for the service's Table Storage tables, so several installations can share an account. Default `sync`. */
  TABLE_PREFIX: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9]{0,20}$/, 'letters and digits, starting with a letter, at most 21')
    .default('sync'),

  // --- Business Central -----------------------------------------------------------------------------
  /** BC API host. Default the public cloud `https://api.businesscentral.dynamics.com`. */
  BC_API_URL: url.default('https://api.businesscentral.dynamics.com'),
  /** Microsoft Entra tenant id of the BC environment. */
  BC_TENANT_ID: z.string().min(1),
  /** BC environment name, e.g. `Production`. */
  BC_ENVIRONMENT: z.string().min(1),
  /** SystemId of the BC company that is integrated. */
  BC_COMPANY_ID: guid,
  /** How the service authenticates to BC. `static-token` is only for the local simulators. */
  BC_AUTH: authMode.default('client-secret'),
  /** App registration (client) id used for BC. */
  BC_CLIENT_ID: z.string().min(1).optional(),
  /** App registration secret for BC (a Key Vault reference in Azure). */
  BC_CLIENT_SECRET: z.string().min(1).optional(),
  /** Path of a PEM certificate for BC client-certificate auth. */
  BC_CLIENT_CERTIFICATE_PATH: z.string().min(1).optional(),
  /** Bearer token sent as is (simulators only). */
  BC_STATIC_TOKEN: z.string().min(1).optional(),
  /** Secret from which each BC subscription's `clientState` is derived (HMAC per resource). */
  BC_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters'),

  // --- Dataverse ------------------------------------------------------------------------------------
  /** Dataverse environment URL, e.g. `https://contoso.crm.dynamics.com`. */
  DATAVERSE_URL: url,
  /** How the service authenticates to Dataverse. `static-token` is only for the local simulators. */
  DATAVERSE_AUTH: authMode.default('client-secret'),
  /** Microsoft Entra tenant of the Dataverse app registration; defaults to BC_TENANT_ID. */
  DATAVERSE_TENANT_ID: z.string().min(1).optional(),
  /** App registration (client) id used for Dataverse (the application user). */
  DATAVERSE_CLIENT_ID: z.string().min(1).optional(),
  /** App registration secret for Dataverse (a Key Vault reference in Azure). */
  DATAVERSE_CLIENT_SECRET: z.string().min(1).optional(),
  /** Path of a PEM certificate for Dataverse client-certificate auth. */
  DATAVERSE_CLIENT_CERTIFICATE_PATH: z.string().min(1).optional(),
  /** Bearer token sent as is (simulators only). */
  DATAVERSE_STATIC_TOKEN: z.string().min(1).optional(),
  /** The key Dataverse webhook steps send (WebhookKey / HttpHeader / HttpQueryString auth). */
  DATAVERSE_WEBHOOK_KEY: z.string().min(16, 'must be at least 16 characters'),
  /** systemuserid of the integration (application) user; discovered with WhoAmI when not set. */
  DATAVERSE_INTEGRATION_USER_ID: guid.optional(),

  // --- The service ----------------------------------------------------------------------------------
  /** Public base URL of this function app; webhook notification URLs are built from it. */
  PUBLIC_BASE_URL: url,
  /** Team or Person ownership of synced Dataverse rows, as BC's connection setup. Default `Person`. */
  OWNERSHIP_MODEL: z.enum(['Person', 'Team']).default('Person'),
  /**
   * The Dataverse owner team (name or teamid) that owns new rows when OWNERSHIP_MODEL is `Team` — the team BC's
   * connection setup creates, e.g. `BCI - CRONUS USA, Inc.`. Required with `Team`; it must exist and have a role.
   */
  DATAVERSE_OWNING_TEAM: z.string().min(1).max(160).optional(),
  /**
   * BC's "Multi Company Synch. Enabled": several installations (BC companies or environments) share one Dataverse.
   * Each installation has a company row (`bcbi_company`), stamps it on every row it writes where BC's integration
   * solution has `bcbi_companyid`, reads only rows of its company or of none (the company clause of the integration
   * table filters), and registers its own webhook endpoint and steps. Default `false` (one installation).
   */
  MULTI_COMPANY_SYNC: bool.default(false),
  /**
   * This installation's name: the company row's `bcbi_name`, its business unit and owner team (`BCI - <name>`),
   * and its webhook endpoint and step names with MULTI_COMPANY_SYNC. Default `<BC_ENVIRONMENT> <first 8 of BC_COMPANY_ID>`.
   */
  INSTALLATION_NAME: z.string().min(1).max(30).optional(),
  /** Dynamics 365 Sales mappings (items, prices, orders, invoices) on top of the Dataverse base set. Default `true`. */
  SALES_INTEGRATION: bool.default(true),
  /** Unit groups (UNIT GROUP / ITEM UOM / RESOURCE UOM) instead of UNIT OF MEASURE. Default `true`. */
  UNIT_GROUP_MAPPING: bool.default(true),
  /** New pricing experience (price list headers/lines) instead of customer price groups/sales prices. Default `false`. */
  EXTENDED_PRICING: bool.default(false),
  /** Sales order integration: `none`, `legacy` (Sales → BC, status back) or `bidirectional`. Default `legacy`. */
  SALES_ORDER_INTEGRATION: z.enum(['none', 'legacy', 'bidirectional']).default('legacy'),
  /**
   * Create BC sales orders automatically from submitted Sales orders (legacy mode only; ignored with `none`, an error
   * when set to true with `bidirectional`). Default `true`.
   */
  AUTO_CREATE_SALES_ORDERS: bool.default(true),
  /** Line type used for write-in products on orders from Sales. Default `Item`. */
  WRITE_IN_PRODUCT_TYPE: z.enum(['Item', 'Resource']).default('Item'),
  /** Number of the item/resource used for write-in products. Default `WRITE-IN`. */
  WRITE_IN_PRODUCT_NO: z.string().min(1).default('WRITE-IN'),
  /** Reconciliation timer (NCRONTAB). Default every 5 minutes. */
  RECONCILE_SCHEDULE: ncrontab.default('0 */5 * * * *'),
  /** Dead-letter retry timer (NCRONTAB). Default every 10 minutes. */
  DEADLETTER_RETRY_SCHEDULE: ncrontab.default('0 */10 * * * *'),
  /** BC subscription renewal timer (NCRONTAB). Default hourly. */
  SUBSCRIPTION_RENEWAL_SCHEDULE: ncrontab.default('0 0 * * * *'),
  /** How often the same error may repeat before the record is marked skipped. Default 3. */
  SKIP_AFTER_FAILURES: z.coerce.number().int().min(1).max(100).default(3),
  /** Maximum concurrent requests to BC per service principal (BC allows 5). Default 5. */
  BC_MAX_CONCURRENCY: z.coerce.number().int().min(1).max(5).default(5),
  /** Maximum concurrent requests to Dataverse (the server's x-ms-dop-hint lowers it; limit 52). Default 16. */
  DATAVERSE_MAX_CONCURRENCY: z.coerce.number().int().min(1).max(52).default(16),
  /**
   * Dataverse's combined execution time per user and web server in one window, in seconds; the full sync paces its
   * bulk writes to it. Microsoft's documented default 1,200 ("may vary between environments"). Default 1200.
   */
  DATAVERSE_EXECUTION_LIMIT_SECONDS: z.coerce.number().positive().default(1200),
  /** The sliding window of that limit, in seconds (Microsoft: 300). Default 300. */
  DATAVERSE_LIMIT_WINDOW_SECONDS: z.coerce.number().positive().default(300),
  /** Dry run: compute and record changes, write nothing to BC or Dataverse. Default `false`. */
  DRY_RUN: bool.default(false),

  // --- Admin access and retention -------------------------------------------------------------------
  /**
   * Who may use the admin page and API. `entra`: App Service authentication (Easy Auth) signs users in and the
   * code reads the app roles `Sync.Reader` / `Sync.Admin` from its `x-ms-client-principal` header (Azure; the
   * Bicep sets it). `keys`: the two keys below stand for the two roles, sent in the `x-sync-key` header
   * (local). Default `keys`.
   */
  ADMIN_AUTH: z.enum(['keys', 'entra']).default('keys'),
  /** With ADMIN_AUTH=keys: the key that stands for `Sync.Admin` (read and change). Unset: nobody is an admin. */
  SYNC_ADMIN_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  /** With ADMIN_AUTH=keys: the key that stands for `Sync.Reader` (read only). Unset: only the admin key reads. */
  SYNC_READER_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Key Sales sends (`x-availability-key` header) to `GET /api/availability/{productId}`; nothing else accepts it. */
  AVAILABILITY_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Days history, run-log and resolved or dismissed error rows are kept before the retention timer deletes them. Default 30. */
  RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  /** Retention timer (NCRONTAB). Default daily at 02:30. */
  RETENTION_SCHEDULE: ncrontab.default('0 30 2 * * *'),
});

/**
 * Either/or settings, checked on the raw environment so they are reported together with the field errors
 * (a zod refinement would only run once every field is valid, and start-up must name every bad setting).
 */
function crossCheck(env: Record<string, string | undefined>): string[] {
  const problems: string[] = [];
  const need = (cond: boolean, name: string, message: string) => {
    if (!cond) problems.push(`${name}: ${message}`);
  };
  need(
    Boolean(env.SERVICEBUS_CONNECTION || env.SERVICEBUS_CONNECTION__fullyQualifiedNamespace),
    'SERVICEBUS_CONNECTION',
    'set SERVICEBUS_CONNECTION (connection string) or SERVICEBUS_CONNECTION__fullyQualifiedNamespace',
  );
  need(
    Boolean(env.TABLES_CONNECTION || env.TABLES_CONNECTION__tableServiceUri),
    'TABLES_CONNECTION',
    'set TABLES_CONNECTION (connection string) or TABLES_CONNECTION__tableServiceUri',
  );
  for (const side of ['BC', 'DATAVERSE'] as const) {
    const mode = env[`${side}_AUTH`] ?? 'client-secret';
    const has = (suffix: string) => Boolean(env[`${side}_${suffix}`]);
    if (mode === 'static-token') need(has('STATIC_TOKEN'), `${side}_STATIC_TOKEN`, `required when ${side}_AUTH=static-token`);
    if (mode === 'client-secret' || mode === 'client-certificate')
      need(has('CLIENT_ID'), `${side}_CLIENT_ID`, `required when ${side}_AUTH=${mode}`);
    if (mode === 'client-secret') need(has('CLIENT_SECRET'), `${side}_CLIENT_SECRET`, `required when ${side}_AUTH=client-secret`);
    if (mode === 'client-certificate')
      need(has('CLIENT_CERTIFICATE_PATH'), `${side}_CLIENT_CERTIFICATE_PATH`, `required when ${side}_AUTH=client-certificate`);
  }
  need(
    env.OWNERSHIP_MODEL !== 'Team' || Boolean(env.DATAVERSE_OWNING_TEAM),
    'DATAVERSE_OWNING_TEAM',
    'required when OWNERSHIP_MODEL=Team: the name or teamid of the owner team that owns new rows (BC names it "BCI - <company>")',
  );
  // BC: "Sales order integration" (legacy one-way creation) and bidirectional sales order sync are mutually exclusive.
  const autoCreate = env.AUTO_CREATE_SALES_ORDERS?.toLowerCase();
  need(
    !(env.SALES_ORDER_INTEGRATION === 'bidirectional' && (autoCreate === 'true' || autoCreate === '1' || autoCreate === 'yes')),
    'AUTO_CREATE_SALES_ORDERS',
    'legacy "Automatically Create Sales Orders" cannot be combined with SALES_ORDER_INTEGRATION=bidirectional (BC makes them mutually exclusive): set it to false or use legacy',
  );
  need(
    !(env.SYNC_ADMIN_KEY && env.SYNC_ADMIN_KEY === env.SYNC_READER_KEY),
    'SYNC_READER_KEY',
    'must differ from SYNC_ADMIN_KEY (the two keys stand for two roles)',
  );
  return problems;
}

export type Settings = z.infer<typeof settingsSchema>;

/** Names of every setting, for the README, the sample settings and the Bicep cross-check. */
export const SETTING_NAMES = Object.keys(settingsSchema.shape) as Array<keyof Settings>;

/** Settings without a default that must be present in every deployment (besides the either/or connections). */
export const REQUIRED_SETTING_NAMES = SETTING_NAMES.filter((name) => {
  const field = settingsSchema.shape[name];
  return !field.safeParse(undefined).success;
});

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration (${problems.length} setting${problems.length === 1 ? '' : 's'}):\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/** Parses settings from an environment; throws one ConfigError naming every missing or invalid setting. */
export function parseSettings(env: Record<string, string | undefined>): Settings {
  // Empty strings count as unset, as Azure app settings often hold "" for "not configured".
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = settingsSchema.safeParse(cleaned);
  const problems = crossCheck(cleaned);
  if (result.success && problems.length === 0) return result.data;
  for (const issue of result.success ? [] : result.error.issues) {
    const name = issue.path.join('.') || '(settings)';
    const message = issue.code === 'invalid_type' && cleaned[name] === undefined ? 'is required' : issue.message;
    problems.push(`${name}: ${message}`);
  }
  throw new ConfigError([...new Set(problems)]);
}

let cached: Settings | undefined;

/** The process's settings, parsed once. Function modules call this at load time so a bad setting stops start-up. */
export function settings(): Settings {
  cached ??= parseSettings(process.env);
  return cached;
}

/** For tests and the local host, which change the environment between runs. */
export function resetSettingsCache(): void {
  cached = undefined;
}
