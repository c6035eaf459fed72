import { randomUUID } from 'node:crypto';
import type { SimClock } from './clock';
import { type AttributeMeta, type Catalog, type EntityMeta, wireName } from './metadata';
import { type CallerContext, type ChangeEvent, LOOKUP_TYPE, type Operations } from './operations';
import type { Store, StoredRow } from './store';
import { checkWebhookUrl } from './webhook-url';

const CONTRACTS = 'http://schemas.microsoft.com/xrm/2011/Contracts';
/** api-contracts.md A.2: beyond this the context loses ParentContext, InputParameters and the images. */
export const MAX_WEBHOOK_PAYLOAD_BYTES = 256 * 1024;

export interface WebhookFaults {
  /** Share of deliveries silently not sent (0..1). */
  dropRate: number;
  /** Share of deliveries sent twice (0..1). */
  duplicateRate: number;
}

/** One attempt to POST a context, as recorded in the delivery log (`GET /_sim/webhooks`). */
export interface DeliveryAttempt {
  status?: number;
  error?: string;
  at: string;
}

export interface DeliveryRecord {
  deliveryId: string;
  stepId: string;
  serviceEndpointId: string;
  url: string;
  messageName: string;
  entityName: string;
  primaryEntityId: string;
  operationId: string;
  correlationId: string;
  initiatingUserId: string;
  sizeExceeded: boolean;
  bytes: number;
  /** pending | delivered | failed | dropped */
  state: 'pending' | 'delivered' | 'failed' | 'dropped';
  duplicated: boolean;
  attempts: DeliveryAttempt[];
}

export interface WebhookServiceOptions {
  delayMs: number;
  timeoutMs: number;
  organizationName: string;
  organizationDomain: string;
  organizationId: string;
  businessUnitId: string;
  /** Size above which the context is trimmed and x-ms-dynamics-msg-size-exceeded is sent. Default 256 KB. */
  maxPayloadBytes: number;
}

/** Parses `<settings><setting name="k" value="v"/></settings>` (HttpHeader / HttpQueryString auth values). */
export function parseSettings(xml: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const re = /<setting\s+name="([^"]*)"\s+value="([^"]*)"\s*\/>/g;
  for (let m = re.exec(xml); m; m = re.exec(xml)) out.push([unxml(m[1] ?? ''), unxml(m[2] ?? '')]);
  return out;
}

function unxml(s: string): string {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

const wcfDate = (ms: number, offset = false): string => `/Date(${ms}${offset ? '+0000' : ''})/`;

/**
 * The asynchronous service: finds the webhook steps registered for a change (sdkmessageprocessingsteps bound to a
 * webhook serviceendpoint), builds the RemoteExecutionContext at operation time and POSTs it after `delayMs`.
 */
export class WebhookService {
  readonly deliveries: DeliveryRecord[] = [];
  faults: WebhookFaults = { dropRate: 0, duplicateRate: 0 };
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inflight = new Set<AbortController>();
  private ops: Operations | undefined;

  constructor(
    private readonly store: Store,
    private readonly catalog: Catalog,
    private readonly clock: SimClock,
    readonly options: WebhookServiceOptions,
  ) {}

  attach(ops: Operations): void {
    this.ops = ops;
  }

  /** Called for every committed change. */
  onChange(e: ChangeEvent): void {
    if (e.meta.system) return;
    for (const step of this.matchingSteps(e)) {
      const endpoint = this.store.get('serviceendpoint', String(step._eventhandler_value ?? ''));
      if (endpoint?.contract !== 8) continue;
      const payload = this.buildContext(e, step);
      this.schedule(e, step, endpoint, payload);
    }
  }

  private matchingSteps(e: ChangeEvent): StoredRow[] {
    const messageId = this.store.findByKey('sdkmessage', ['name'], [e.message]);
    const out: StoredRow[] = [];
    for (const step of this.store.table('sdkmessageprocessingstep').rows.values()) {
      if (step.statecode !== 0 || step.stage !== 40) continue;
      if (step._sdkmessageid_value !== messageId) continue;
      const filter = this.store.get('sdkmessagefilter', String(step._sdkmessagefilterid_value ?? ''));
      if (filter && filter.primaryobjecttypecode !== e.meta.logicalName) continue;
      if (!filter && step._sdkmessagefilterid_value !== undefined) continue;
      if (e.message === 'Update' && typeof step.filteringattributes === 'string' && step.filteringattributes.trim() !== '') {
        const wanted = step.filteringattributes.split(',').map((s) => s.trim().toLowerCase());
        if (!e.requestAttributes.some((a) => wanted.includes(a))) continue;
      }
      out.push(step);
    }
    return out.sort((a, b) => Number(a.rank ?? 1) - Number(b.rank ?? 1));
  }

  /** Builds the RemoteExecutionContext (api-contracts.md A.3) with keys in DataContract (alphabetical) order. */
  buildContext(e: ChangeEvent, step: StoredRow): Record<string, unknown> {
    const stepId = String(step.sdkmessageprocessingstepid);
    const userId = typeof step._impersonatinguserid_value === 'string' ? step._impersonatinguserid_value : e.ctx.userId;
    const operationId = randomUUID();
    const target =
      e.message === 'Delete'
        ? entityReference(e.meta.logicalName, e.id)
        : { __type: `Entity:${CONTRACTS}`, ...this.entity(e.meta, e.id, e.target ?? {}, e.message === 'Create') };
    const images = this.images(e, step);
    const mode = Number(step.mode ?? 1);
    const common = {
      BusinessUnitId: this.options.businessUnitId,
      CorrelationId: e.ctx.correlationId,
      Depth: 1,
      InitiatingUserAgent: '',
      InitiatingUserAzureActiveDirectoryObjectId: this.aadObjectId(e.ctx.callerId),
      InitiatingUserId: e.ctx.userId,
    };
    const rest = (stage: number, parent: unknown, pre: unknown[], post: unknown[], inputs: unknown[], shared: unknown[]) => ({
      InputParameters: inputs,
      IsExecutingOffline: false,
      IsInTransaction: mode === 0,
      IsOfflinePlayback: false,
      IsolationMode: 1,
      MessageName: e.message,
      Mode: mode,
      OperationCreatedOn: wcfDate(e.at, true),
      OperationId: operationId,
      OrganizationId: this.options.organizationId,
      OrganizationName: this.options.organizationName,
      OutputParameters: e.message === 'Create' && stage === 40 ? [{ key: 'id', value: e.id }] : [],
      OwningExtension: {
        Id: stepId,
        KeyAttributes: [],
        LogicalName: 'sdkmessageprocessingstep',
        Name: typeof step.name === 'string' ? step.name : null,
        RowVersion: null,
      },
      ParentContext: parent,
      PostEntityImages: post,
      PreEntityImages: pre,
      PrimaryEntityId: e.id,
      PrimaryEntityName: e.meta.logicalName,
      RequestId: mode === 0 ? operationId : null,
      SecondaryEntityName: 'none',
      SharedVariables: shared,
      Stage: stage,
      UserAzureActiveDirectoryObjectId: this.aadObjectId(userId),
      UserId: userId,
    });
    const parentInputs = [
      { key: 'Target', value: target },
      ...(e.message === 'Delete' ? [] : [{ key: 'SuppressDuplicateDetection', value: false }]),
    ];
    const parent = {
      ...common,
      ...rest(30, null, [], [], parentInputs, [
        {
          key: 'ChangedEntityTypes',
          value: [
            {
              __type: 'KeyValuePairOfstringstring:#System.Collections.Generic',
              key: e.meta.logicalName,
              value: e.message,
            },
          ],
        },
      ]),
    };
    return { ...common, ...rest(40, parent, images.pre, images.post, [{ key: 'Target', value: target }], []) };
  }

  private images(e: ChangeEvent, step: StoredRow): { pre: unknown[]; post: unknown[] } {
    const pre: unknown[] = [];
    const post: unknown[] = [];
    const stepId = step.sdkmessageprocessingstepid;
    for (const img of this.store.table('sdkmessageprocessingstepimage').rows.values()) {
      if (img._sdkmessageprocessingstepid_value !== stepId) continue;
      const type = Number(img.imagetype ?? 0);
      const alias = String(img.entityalias ?? img.name ?? 'Image');
      const cols =
        typeof img.attributes === 'string' && img.attributes.trim() !== '' ? img.attributes.split(',').map((s) => s.trim()) : undefined;
      // A Create has no pre-image and a Delete no post-image (register-plug-in.md "Availability of images").
      if ((type === 0 || type === 2) && e.pre && e.message !== 'Create')
        pre.push({ key: alias, value: this.image(e.meta, e.id, e.pre, cols) });
      if ((type === 1 || type === 2) && e.post && e.message !== 'Delete')
        post.push({ key: alias, value: this.image(e.meta, e.id, e.post, cols) });
    }
    // Asynchronous steps get the primary name as an automatic post image.
    if (Number(step.mode ?? 1) === 1 && e.post && e.message !== 'Delete') {
      post.push({
        key: 'AsynchronousStepPrimaryName',
        value: this.image(e.meta, e.id, e.post, [e.meta.primaryName, e.meta.primaryId]),
      });
    }
    return { pre, post };
  }

  private image(meta: EntityMeta, id: string, row: StoredRow, columns: string[] | undefined): Record<string, unknown> {
    const picked: StoredRow = {};
    const names = columns ?? [...meta.attributes.keys()];
    for (const name of names) {
      const attr = meta.attributes.get(name);
      if (!attr) continue;
      const w = wireName(attr);
      if (row[w] === undefined) continue;
      picked[w] = row[w];
      if (row[`${w}${LOOKUP_TYPE}`] !== undefined) picked[`${w}${LOOKUP_TYPE}`] = row[`${w}${LOOKUP_TYPE}`];
    }
    return this.entity(meta, id, picked, false);
  }

  /** An Entity in DataContract JSON: typed Attributes plus FormattedValues for option sets (Create sample). */
  private entity(meta: EntityMeta, id: string, row: StoredRow, withFormatted: boolean): Record<string, unknown> {
    const attributes: Array<{ key: string; value: unknown }> = [];
    const formatted: Array<{ key: string; value: string }> = [];
    for (const [key, value] of Object.entries(row)) {
      if (key.includes('@')) continue;
      const attr = meta.wire.get(key);
      if (!attr) continue;
      attributes.push({ key: attr.logicalName, value: typed(attr, value, row[`${key}${LOOKUP_TYPE}`]) });
      if (withFormatted && value !== null && value !== undefined) {
        const f = formattedValue(attr, value);
        if (f !== undefined) formatted.push({ key: attr.logicalName, value: f });
      }
    }
    return {
      Attributes: attributes,
      EntityState: null,
      FormattedValues: formatted,
      Id: id,
      KeyAttributes: [],
      LogicalName: meta.logicalName,
      RelatedEntities: [],
      RowVersion: null,
    };
  }

  private aadObjectId(userId: string): string {
    const u = this.store.get('systemuser', userId);
    return typeof u?.azureactivedirectoryobjectid === 'string' ? u.azureactivedirectoryobjectid : '00000000-0000-0000-0000-000000000000';
  }

  /** DataContractJsonSerializer escapes every '/', as in the documented samples (`"\/Date(…)\/"`). */
  static serialize(context: Record<string, unknown>): string {
    return JSON.stringify(context).replace(/\//g, '\\/');
  }

  private schedule(e: ChangeEvent, step: StoredRow, endpoint: StoredRow, context: Record<string, unknown>): void {
    let body = WebhookService.serialize(context);
    let sizeExceeded = false;
    if (Buffer.byteLength(body) > this.options.maxPayloadBytes) {
      sizeExceeded = true;
      const trimmed = { ...context, InputParameters: [], ParentContext: null, PostEntityImages: [], PreEntityImages: [] };
      body = WebhookService.serialize(trimmed);
    }
    const url = this.endpointUrl(endpoint);
    const record: DeliveryRecord = {
      deliveryId: randomUUID(),
      stepId: String(step.sdkmessageprocessingstepid),
      serviceEndpointId: String(endpoint.serviceendpointid),
      url,
      messageName: e.message,
      entityName: e.meta.logicalName,
      primaryEntityId: e.id,
      operationId: String(context.OperationId),
      correlationId: e.ctx.correlationId,
      initiatingUserId: e.ctx.userId,
      sizeExceeded,
      bytes: Buffer.byteLength(body),
      state: 'pending',
      duplicated: false,
      attempts: [],
    };
    this.deliveries.push(record);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-ms-dynamics-organization': this.options.organizationDomain,
      'x-ms-dynamics-entity-name': e.meta.logicalName,
      'x-ms-dynamics-request-name': e.message,
      'x-ms-correlation-request-id': e.ctx.correlationId,
    };
    if (sizeExceeded) headers['x-ms-dynamics-msg-size-exceeded'] = 'true';
    if (endpoint.authtype === 5) {
      for (const [k, v] of parseSettings(String(endpoint.authvalue ?? ''))) headers[k] = v;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (Math.random() < this.faults.dropRate) {
        record.state = 'dropped';
        return;
      }
      const duplicate = Math.random() < this.faults.duplicateRate;
      record.duplicated = duplicate;
      void this.deliver(record, step, headers, body, e.ctx).then(() => {
        if (duplicate) return this.deliver(record, step, headers, body, e.ctx);
        return undefined;
      });
    }, this.options.delayMs);
    this.timers.add(timer);
  }

  private endpointUrl(endpoint: StoredRow): string {
    const u = new URL(String(endpoint.url));
    if (endpoint.authtype === 4) u.searchParams.set('code', String(endpoint.authvalue ?? ''));
    if (endpoint.authtype === 6) for (const [k, v] of parseSettings(String(endpoint.authvalue ?? ''))) u.searchParams.append(k, v);
    return u.toString();
  }

  private async deliver(
    record: DeliveryRecord,
    step: StoredRow,
    headers: Record<string, string>,
    body: string,
    ctx: CallerContext,
  ): Promise<void> {
    const problem = checkWebhookUrl(record.url);
    if (problem) {
      record.attempts.push({ error: problem, at: this.clock.isoNow() });
      record.state = 'failed';
      this.recordJob(record, step, ctx, problem);
      return;
    }
    // One retry, and only for 502/503/504 (use-webhooks.md).
    for (let attempt = 0; attempt < 2; attempt++) {
      const ac = new AbortController();
      this.inflight.add(ac);
      const timeout = setTimeout(() => ac.abort(), this.options.timeoutMs);
      try {
        const res = await fetch(record.url, { method: 'POST', headers, body, signal: ac.signal });
        await res.arrayBuffer().catch(() => undefined);
        record.attempts.push({ status: res.status, at: this.clock.isoNow() });
        if (res.status >= 200 && res.status < 300) {
          record.state = 'delivered';
          this.recordJob(record, step, ctx, undefined);
          return;
        }
        if (attempt === 0 && [502, 503, 504].includes(res.status)) continue;
        record.state = 'failed';
        this.recordJob(record, step, ctx, `The webhook endpoint answered HTTP ${res.status}.`);
        return;
      } catch (err) {
        const message = ac.signal.aborted ? `No response within ${this.options.timeoutMs} ms.` : String((err as Error).message);
        record.attempts.push({ error: message, at: this.clock.isoNow() });
        record.state = 'failed';
        this.recordJob(record, step, ctx, message);
        return;
      } finally {
        clearTimeout(timeout);
        this.inflight.delete(ac);
      }
    }
  }

  /** System job row for the delivery: kept on failure (statuscode 31), and on success unless asyncautodelete. */
  private recordJob(record: DeliveryRecord, step: StoredRow, ctx: CallerContext, failure: string | undefined): void {
    if (!this.ops) return;
    if (!failure && step.asyncautodelete === true) return;
    const meta = this.catalog.entity('asyncoperation');
    const stepId = record.stepId;
    if (!this.store.get('sdkmessageprocessingstep', stepId)) return;
    try {
      this.ops.create(ctx, meta, {
        name: String(step.name ?? 'webhook'),
        operationtype: 1,
        'owningextensionid@odata.bind': `/sdkmessageprocessingsteps(${stepId})`,
        primaryentitytype: record.entityName,
        correlationid: record.correlationId,
        message: failure ?? null,
        friendlymessage: failure ?? null,
        completedon: this.clock.isoNow(),
        statecode: 3,
        statuscode: failure ? 31 : 30,
        retrycount: Math.max(0, record.attempts.length - 1),
      });
    } catch {
      // The org was reset while the post was in flight; nothing to record against.
    }
  }

  /** Resolves once no delivery is waiting or in flight (tests poll the receiver instead; stop() uses this). */
  cancelAll(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const ac of this.inflight) ac.abort();
    this.inflight.clear();
  }
}

function entityReference(logicalName: string, id: string): Record<string, unknown> {
  return {
    __type: `EntityReference:${CONTRACTS}`,
    Id: id,
    KeyAttributes: [],
    LogicalName: logicalName,
    Name: null,
    RowVersion: null,
  };
}

/** Attribute value as the SDK types it: EntityReference, OptionSetValue, Money, WCF dates, plain values. */
function typed(attr: AttributeMeta, value: unknown, lookupType: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (attr.type) {
    case 'Lookup':
    case 'Customer':
    case 'Owner':
      return entityReference(String(lookupType ?? attr.targets?.[0] ?? ''), String(value));
    case 'Picklist':
    case 'State':
    case 'Status':
      return { __type: `OptionSetValue:${CONTRACTS}`, Value: value };
    case 'Money':
      return { __type: `Money:${CONTRACTS}`, Value: value };
    case 'DateTime':
      return wcfDate(Date.parse(attr.dateOnly ? `${String(value)}T00:00:00Z` : String(value)));
    default:
      return value;
  }
}

function formattedValue(attr: AttributeMeta, value: unknown): string | undefined {
  switch (attr.type) {
    case 'Picklist':
    case 'State':
    case 'Status':
      return attr.options?.find((o) => o.value === value)?.label;
    case 'DateTime':
      return attr.dateOnly ? String(value) : `${String(value).slice(0, 19)}-00:00`;
    case 'Money':
      return `$${Number(value).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
    case 'Boolean':
      return value ? 'Yes' : 'No';
    default:
      return undefined;
  }
}
