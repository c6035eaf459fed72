import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type DataverseSimulator, DemoIds } from '../../dev/dataverse-simulator';
import { until } from '../support/until';
import { call, control, registerStep, startSim, WebhookReceiver } from './dataverse-simulator-helpers';

let sim: DataverseSimulator;
let receiver: WebhookReceiver;
beforeAll(async () => {
  sim = await startSim();
  receiver = await new WebhookReceiver().start();
});
afterAll(async () => {
  await sim.stop();
  await receiver.stop();
});
beforeEach(async () => {
  // Each test registers its own steps on a fresh org.
  await control(sim, 'POST', 'reset', {});
  await control(sim, 'DELETE', 'faults');
  await control(sim, 'POST', 'limits', { webhookMaxPayloadBytes: 256 * 1024 });
  receiver.posts.length = 0;
  receiver.statuses.length = 0;
});

const CONTRACTS = 'http://schemas.microsoft.com/xrm/2011/Contracts';
/** Top-level keys of the verbatim Update sample (A.3.1), in order. */
const UPDATE_SAMPLE_KEYS = [
  'BusinessUnitId',
  'CorrelationId',
  'Depth',
  'InitiatingUserId',
  'InputParameters',
  'IsExecutingOffline',
  'IsInTransaction',
  'IsOfflinePlayback',
  'IsolationMode',
  'MessageName',
  'Mode',
  'OperationCreatedOn',
  'OperationId',
  'OrganizationId',
  'OrganizationName',
  'OutputParameters',
  'OwningExtension',
  'ParentContext',
  'PostEntityImages',
  'PreEntityImages',
  'PrimaryEntityId',
  'PrimaryEntityName',
  'RequestId',
  'SecondaryEntityName',
  'SharedVariables',
  'Stage',
  'UserId',
];
/** The newer fields of the Create sample (A.3.2). */
const NEWER_KEYS = ['InitiatingUserAgent', 'InitiatingUserAzureActiveDirectoryObjectId', 'UserAzureActiveDirectoryObjectId'];

describe('webhook registration and the Update context (A.1, A.1b, A.3.1)', () => {
  it('posts the documented RemoteExecutionContext for an Update of contact with filtering attributes firstname,lastname', async () => {
    const { stepId } = await registerStep(sim, {
      url: `${receiver.url}/api/dataverse`,
      message: 'Update',
      entity: 'contact',
      filteringattributes: 'firstname,lastname',
    });
    const contactId = DemoIds.contact(1);
    // Not in filteringattributes: the step is not even queued.
    await call(sim, `contacts(${contactId})`, { method: 'PATCH', body: { jobtitle: 'Buyer' } });
    expect((await control(sim, 'GET', 'webhooks')).body.deliveries).toEqual([]);
    const r = await call(sim, `contacts(${contactId})`, {
      method: 'PATCH',
      headers: { 'x-ms-correlation-request-id': 'b374239d-4233-41a9-8b17-a86cb4f737b5' },
      body: { firstname: 'James' },
    });
    expect(r.status).toBe(204);
    const post = await until('webhook post', () => receiver.posts[0], 5000);

    // Headers (A.1): the HttpHeader auth setting, x-ms-dynamics-* and the correlation id.
    expect(post.url).toBe('/api/dataverse');
    expect(post.headers['content-type']).toBe('application/json');
    expect(post.headers['x-dv-webhook-secret']).toBe('s3cr3t');
    expect(post.headers['x-ms-dynamics-organization']).toBe('simorg.crm.dynamics.com');
    expect(post.headers['x-ms-dynamics-entity-name']).toBe('contact');
    expect(post.headers['x-ms-dynamics-request-name']).toBe('Update');
    expect(post.headers['x-ms-correlation-request-id']).toBe('b374239d-4233-41a9-8b17-a86cb4f737b5');
    expect(post.headers['x-ms-dynamics-msg-size-exceeded']).toBeUndefined();
    // DataContractJsonSerializer escapes slashes, as in the samples.
    expect(post.raw).toContain('"__type":"Entity:http:\\/\\/schemas.microsoft.com\\/xrm\\/2011\\/Contracts"');
    expect(post.raw).toMatch(/"OperationCreatedOn":"\\\/Date\(\d+\+0000\)\\\/"/);

    const ctx = post.body;
    expect(Object.keys(ctx)).toEqual([...UPDATE_SAMPLE_KEYS, ...NEWER_KEYS].sort());
    expect(Object.keys(ctx).filter((k) => !NEWER_KEYS.includes(k))).toEqual(UPDATE_SAMPLE_KEYS);
    expect(ctx).toMatchObject({
      BusinessUnitId: DemoIds.businessUnit,
      CorrelationId: 'b374239d-4233-41a9-8b17-a86cb4f737b5',
      Depth: 1,
      InitiatingUserId: sim.integrationUserId,
      IsExecutingOffline: false,
      IsInTransaction: false,
      IsOfflinePlayback: false,
      IsolationMode: 1,
      MessageName: 'Update',
      Mode: 1,
      OrganizationId: DemoIds.organization,
      OrganizationName: 'simorg',
      OutputParameters: [],
      OwningExtension: {
        Id: stepId,
        KeyAttributes: [],
        LogicalName: 'sdkmessageprocessingstep',
        Name: 'bc-dataverse-sync: Update of contact',
        RowVersion: null,
      },
      PreEntityImages: [],
      PrimaryEntityId: contactId,
      PrimaryEntityName: 'contact',
      RequestId: null,
      SecondaryEntityName: 'none',
      SharedVariables: [],
      Stage: 40,
      UserId: sim.integrationUserId,
    });
    expect(ctx.OperationCreatedOn).toMatch(/^\/Date\(\d+\+0000\)\/$/);
    expect(ctx.InputParameters).toHaveLength(1);
    const target = ctx.InputParameters[0];
    expect(target.key).toBe('Target');
    // Only the changed columns plus the system-set ones, in the sample's order.
    expect(target.value).toEqual({
      __type: `Entity:${CONTRACTS}`,
      Attributes: [
        { key: 'firstname', value: 'James' },
        { key: 'contactid', value: contactId },
        { key: 'fullname', value: 'James Townes' },
        { key: 'yomifullname', value: 'James Townes' },
        { key: 'modifiedon', value: expect.stringMatching(/^\/Date\(\d+\)\/$/) },
        {
          key: 'modifiedby',
          value: {
            __type: `EntityReference:${CONTRACTS}`,
            Id: sim.integrationUserId,
            KeyAttributes: [],
            LogicalName: 'systemuser',
            Name: null,
            RowVersion: null,
          },
        },
        { key: 'modifiedonbehalfby', value: null },
      ],
      EntityState: null,
      FormattedValues: [],
      Id: contactId,
      KeyAttributes: [],
      LogicalName: 'contact',
      RelatedEntities: [],
      RowVersion: null,
    });
    // Async steps get the AsynchronousStepPrimaryName post image (no __type on image entities).
    expect(ctx.PostEntityImages).toEqual([
      {
        key: 'AsynchronousStepPrimaryName',
        value: {
          Attributes: [
            { key: 'fullname', value: 'James Townes' },
            { key: 'contactid', value: contactId },
          ],
          EntityState: null,
          FormattedValues: [],
          Id: contactId,
          KeyAttributes: [],
          LogicalName: 'contact',
          RelatedEntities: [],
          RowVersion: null,
        },
      },
    ]);
    expect(ctx.ParentContext).toMatchObject({
      Stage: 30,
      MessageName: 'Update',
      ParentContext: null,
      PostEntityImages: [],
      PreEntityImages: [],
    });
    expect(ctx.ParentContext.InputParameters.map((p: { key: string }) => p.key)).toEqual(['Target', 'SuppressDuplicateDetection']);
    expect(ctx.ParentContext.SharedVariables).toEqual([
      {
        key: 'ChangedEntityTypes',
        value: [{ __type: 'KeyValuePairOfstringstring:#System.Collections.Generic', key: 'contact', value: 'Update' }],
      },
    ]);
  });

  it('sends WebhookKey as ?code= and HttpQueryString settings as query parameters', async () => {
    await registerStep(sim, {
      url: `${receiver.url}/key`,
      message: 'Update',
      entity: 'account',
      authtype: 4,
      authvalue: '00000000-0000-0000-0000-000000000001',
    });
    await registerStep(sim, {
      url: `${receiver.url}/qs`,
      message: 'Update',
      entity: 'account',
      authtype: 6,
      authvalue: '<settings><setting name="Key1" value="Value1"/><setting name="Key2" value="a&amp;b"/></settings>',
    });
    await call(sim, `accounts(${DemoIds.account(1)})`, { method: 'PATCH', body: { telephone1: '1' } });
    await until('two posts', () => receiver.posts.length === 2, 5000);
    const urls = receiver.posts.map((p) => p.url).sort();
    expect(urls).toEqual(['/key?code=00000000-0000-0000-0000-000000000001', '/qs?Key1=Value1&Key2=a%26b']);
  });

  it('rejects webhook endpoints outside loopback and steps with PascalCase navigation properties', async () => {
    const r = await call(sim, 'serviceendpoints', {
      method: 'POST',
      token: sim.adminUserToken,
      body: { name: 'x', url: 'https://example.com/hook', contract: 8, authtype: 4, authvalue: 'k' },
    });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toContain('loopback');
    const s = await call(sim, 'sdkmessageprocessingsteps', {
      method: 'POST',
      token: sim.adminUserToken,
      body: { name: 'x', mode: 1, stage: 40, 'SdkMessageId@odata.bind': `/sdkmessages(${DemoIds.message.Update})` },
    });
    expect(s.status).toBe(400);
  });
});

describe('Create and Delete contexts (A.3.2, A.3.3)', () => {
  it('posts a Create context with the full Target, typed attributes, FormattedValues and OutputParameters id', async () => {
    await registerStep(sim, { url: receiver.url, message: 'Create', entity: 'account', mode: 0 });
    const r = await call(sim, 'accounts', {
      method: 'POST',
      headers: { Prefer: 'return=representation' },
      body: {
        name: 'Webhook Create',
        paymenttermscode: 1,
        creditlimit: 2500.5,
        'primarycontactid@odata.bind': `/contacts(${DemoIds.contact(2)})`,
      },
    });
    const id = r.body.accountid;
    const post = await until('create post', () => receiver.posts[0], 5000);
    const ctx = post.body;
    expect(post.headers['x-ms-dynamics-request-name']).toBe('Create');
    expect(ctx).toMatchObject({
      MessageName: 'Create',
      Mode: 0,
      IsInTransaction: true,
      Stage: 40,
      PrimaryEntityId: id,
      PrimaryEntityName: 'account',
      OutputParameters: [{ key: 'id', value: id }],
      InitiatingUserAgent: '',
      InitiatingUserAzureActiveDirectoryObjectId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      PreEntityImages: [],
    });
    expect(ctx.RequestId).toBe(ctx.OperationId);
    const target = ctx.InputParameters[0].value;
    const attrs = Object.fromEntries(target.Attributes.map((a: { key: string; value: unknown }) => [a.key, a.value]));
    expect(attrs.accountid).toBe(id);
    expect(attrs.name).toBe('Webhook Create');
    expect(attrs.statecode).toEqual({ __type: `OptionSetValue:${CONTRACTS}`, Value: 0 });
    expect(attrs.statuscode).toEqual({ __type: `OptionSetValue:${CONTRACTS}`, Value: 1 });
    expect(attrs.paymenttermscode).toEqual({ __type: `OptionSetValue:${CONTRACTS}`, Value: 1 });
    expect(attrs.creditlimit).toEqual({ __type: `Money:${CONTRACTS}`, Value: 2500.5 });
    expect(attrs.ownerid).toEqual({
      __type: `EntityReference:${CONTRACTS}`,
      Id: sim.integrationUserId,
      KeyAttributes: [],
      LogicalName: 'systemuser',
      Name: null,
      RowVersion: null,
    });
    expect(attrs.primarycontactid).toMatchObject({ Id: DemoIds.contact(2), LogicalName: 'contact' });
    expect(attrs.transactioncurrencyid).toMatchObject({ Id: DemoIds.usd, LogicalName: 'transactioncurrency' });
    expect(attrs.createdon).toMatch(/^\/Date\(\d+\)\/$/);
    const formatted = Object.fromEntries(target.FormattedValues.map((a: { key: string; value: unknown }) => [a.key, a.value]));
    expect(formatted.statecode).toBe('Active');
    expect(formatted.paymenttermscode).toBe('Net 30');
    expect(formatted.createdon).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}-00:00$/);
  });

  it('posts a Delete context with an EntityReference Target and the registered pre-image', async () => {
    await registerStep(sim, {
      url: receiver.url,
      message: 'Delete',
      entity: 'account',
      images: [{ imagetype: 0, entityalias: 'PreImage', attributes: 'accountnumber,name' }],
    });
    const created = await call(sim, 'accounts', {
      method: 'POST',
      headers: { Prefer: 'return=representation' },
      body: { name: 'Doomed', accountnumber: 'C10000' },
    });
    const id = created.body.accountid;
    expect((await call(sim, `accounts(${id})`, { method: 'DELETE' })).status).toBe(204);
    const ctx = (await until('delete post', () => receiver.posts[0], 5000)).body;
    expect(ctx.MessageName).toBe('Delete');
    expect(ctx.InputParameters).toEqual([
      {
        key: 'Target',
        value: { __type: `EntityReference:${CONTRACTS}`, Id: id, KeyAttributes: [], LogicalName: 'account', Name: null, RowVersion: null },
      },
    ]);
    expect(ctx.OutputParameters).toEqual([]);
    expect(ctx.PostEntityImages).toEqual([]);
    expect(ctx.PreEntityImages).toEqual([
      {
        key: 'PreImage',
        value: {
          Attributes: [
            { key: 'accountnumber', value: 'C10000' },
            { key: 'name', value: 'Doomed' },
          ],
          EntityState: null,
          FormattedValues: [],
          Id: id,
          KeyAttributes: [],
          LogicalName: 'account',
          RelatedEntities: [],
          RowVersion: null,
        },
      },
    ]);
  });

  it('adds pre and post images registered as "both" on Update', async () => {
    await registerStep(sim, {
      url: receiver.url,
      message: 'Update',
      entity: 'account',
      images: [{ imagetype: 2, entityalias: 'Image', attributes: 'telephone1' }],
    });
    await call(sim, `accounts(${DemoIds.account(3)})`, { method: 'PATCH', body: { telephone1: 'old' } });
    await until('first', () => receiver.posts.length === 1, 5000);
    await call(sim, `accounts(${DemoIds.account(3)})`, { method: 'PATCH', body: { telephone1: 'new' } });
    const ctx = (await until('second', () => receiver.posts[1], 5000)).body;
    expect(ctx.PreEntityImages[0].value.Attributes).toEqual([{ key: 'telephone1', value: 'old' }]);
    expect(ctx.PostEntityImages.map((i: { key: string }) => i.key)).toEqual(['Image', 'AsynchronousStepPrimaryName']);
    expect(ctx.PostEntityImages[0].value.Attributes).toEqual([{ key: 'telephone1', value: 'new' }]);
  });
});

describe('users in the context', () => {
  it('carries the integration user as InitiatingUserId/UserId/modifiedby, and the impersonated user with CallerObjectId', async () => {
    await registerStep(sim, { url: receiver.url, message: 'Update', entity: 'account' });
    await call(sim, `accounts(${DemoIds.account(4)})`, { method: 'PATCH', body: { fax: '1' } });
    await call(sim, `accounts(${DemoIds.account(4)})`, { method: 'PATCH', token: 'dv-sales-token', body: { fax: '2' } });
    await until('two posts', () => receiver.posts.length === 2, 5000);
    const byFax = (fax: string) =>
      receiver.posts
        .map((p) => p.body)
        .find((c) =>
          c.InputParameters[0].value.Attributes.some((a: { key: string; value: unknown }) => a.key === 'fax' && a.value === fax),
        );
    expect(byFax('1')).toMatchObject({ InitiatingUserId: sim.integrationUserId, UserId: sim.integrationUserId });
    expect(byFax('2')).toMatchObject({ InitiatingUserId: DemoIds.salesUserAnnette, UserId: DemoIds.salesUserAnnette });
  });
});

describe('delivery rules', () => {
  it('retries once on 503 and records a failed system job (statuscode 31) on other errors', async () => {
    const { stepId } = await registerStep(sim, { url: receiver.url, message: 'Update', entity: 'account' });
    receiver.statuses.push(503, 200);
    await call(sim, `accounts(${DemoIds.account(5)})`, { method: 'PATCH', body: { fax: 'retry' } });
    await until('retry', () => receiver.posts.length === 2, 5000);
    const first = await until(
      'delivered',
      async () => (await control(sim, 'GET', 'webhooks')).body.deliveries.find((d: { state: string }) => d.state === 'delivered'),
      5000,
    );
    expect(first.attempts.map((a: { status: number }) => a.status)).toEqual([503, 200]);
    receiver.statuses.push(500);
    await call(sim, `accounts(${DemoIds.account(5)})`, { method: 'PATCH', body: { fax: 'fail' } });
    const jobs = await until(
      'failed job',
      async () => {
        const r = await call(
          sim,
          `asyncoperations?$filter=statuscode eq 31 and _owningextensionid_value eq ${stepId}&$select=statuscode,message`,
          { token: sim.adminUserToken },
        );
        return r.body.value.length ? r.body.value : undefined;
      },
      5000,
    );
    expect(jobs[0].message).toContain('500');
    expect(receiver.posts).toHaveLength(3);
  });

  it('trims the context and sends x-ms-dynamics-msg-size-exceeded above the payload limit', async () => {
    // The 256 KB rule needs a bigger row than the standard columns allow, so the test lowers the limit.
    await control(sim, 'POST', 'limits', { webhookMaxPayloadBytes: 6_000 });
    await registerStep(sim, { url: receiver.url, message: 'Update', entity: 'account', images: [{ imagetype: 2, entityalias: 'All' }] });
    await call(sim, `accounts(${DemoIds.account(6)})`, { method: 'PATCH', body: { description: 'd'.repeat(2000) } });
    const post = await until('post', () => receiver.posts[0], 5000);
    expect(post.headers['x-ms-dynamics-msg-size-exceeded']).toBeDefined();
    expect(post.body.InputParameters).toEqual([]);
    expect(post.body.ParentContext).toBeNull();
    expect(post.body.PreEntityImages).toEqual([]);
    expect(post.body.PostEntityImages).toEqual([]);
    expect(post.body.PrimaryEntityId).toBe(DemoIds.account(6));
  });

  it('drops and duplicates posts on request (fault injection)', async () => {
    await registerStep(sim, { url: receiver.url, message: 'Update', entity: 'account' });
    await control(sim, 'POST', 'faults', { webhookDuplicateRate: 1 });
    await call(sim, `accounts(${DemoIds.account(7)})`, { method: 'PATCH', body: { fax: 'dup' } });
    await until('duplicate', () => receiver.posts.length === 2, 5000);
    expect(receiver.posts[0]?.body.OperationId).toBe(receiver.posts[1]?.body.OperationId);
    await control(sim, 'POST', 'faults', { webhookDuplicateRate: 0, webhookDropRate: 1 });
    await call(sim, `accounts(${DemoIds.account(7)})`, { method: 'PATCH', body: { fax: 'drop' } });
    await until(
      'dropped',
      async () => (await control(sim, 'GET', 'webhooks')).body.deliveries.some((d: { state: string }) => d.state === 'dropped'),
      5000,
    );
    expect(receiver.posts).toHaveLength(2);
  });

  it('fires no step when it is disabled (statecode 1)', async () => {
    const { stepId } = await registerStep(sim, { url: receiver.url, message: 'Update', entity: 'account' });
    expect(
      (await call(sim, `sdkmessageprocessingsteps(${stepId})`, { method: 'PATCH', token: sim.adminUserToken, body: { statecode: 1 } }))
        .status,
    ).toBe(204);
    await call(sim, `accounts(${DemoIds.account(8)})`, { method: 'PATCH', body: { fax: 'x' } });
    expect((await control(sim, 'GET', 'webhooks')).body.deliveries).toEqual([]);
  });
});
