import type { Catalog } from './metadata';
import { baseUnitId, type CallerContext, LOOKUP_TYPE, type Operations } from './operations';
import type { Store, StoredRow } from './store';

/** Deterministic demo ids: `<table tag>-0000-4000-8000-<n>` so tests and docs can name rows. */
export function demoId(tag: number, n: number): string {
  return `${tag.toString(16).padStart(8, '0')}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

export const DemoIds = {
  organization: demoId(0x0e0e, 1),
  businessUnit: demoId(0x0b0b, 1),
  adminUser: demoId(0x5e, 1),
  integrationUser: demoId(0x5e, 2),
  salesUserAnnette: demoId(0x5e, 3),
  salesUserPeter: demoId(0x5e, 4),
  disabledUser: demoId(0x5e, 5),
  unlicensedUser: demoId(0x5e, 6),
  /** BC's salesperson JO (Jim Olive): SALESPEOPLE couples him by name. BC's OF (Otis Falls) has no user on purpose. */
  salesUserJim: demoId(0x5e, 7),
  owningTeam: demoId(0x7e, 1),
  /** A security role associated with the owning team (BC's connection setup gives it "Integration Administrator"). */
  owningTeamRole: demoId(0x7f, 1),
  usd: demoId(0xc0, 1),
  unitGroup: demoId(0x0a, 1),
  /** The demo unit group's base unit, which Dataverse creates with the group. */
  unitPcs: baseUnitId(demoId(0x0a, 1)),
  priceList: demoId(0x0c, 1),
  account: (n: number) => demoId(0xacc, n),
  contact: (n: number) => demoId(0xc0c, n),
  product: (n: number) => demoId(0x0d, n),
  opportunity: demoId(0x0e, 1),
  salesOrder: demoId(0x50, 1),
  salesOrderLine: (n: number) => demoId(0x51, n),
  message: { Create: demoId(0x3e, 1), Update: demoId(0x3e, 2), Delete: demoId(0x3e, 3) },
};

/** Default bearer tokens (documented in the README of the simulator / the report). */
export const DEFAULT_TOKENS: Record<string, string> = {
  'dv-admin-token': DemoIds.adminUser,
  'dv-integration-token': DemoIds.integrationUser,
  'dv-sales-token': DemoIds.salesUserAnnette,
  'dv-sales2-token': DemoIds.salesUserPeter,
  'dv-disabled-token': DemoIds.disabledUser,
  'dv-unlicensed-token': DemoIds.unlicensedUser,
};

const WEBHOOK_MESSAGES = ['Create', 'Update', 'Delete'] as const;

/** The platform rows every org has: root business unit, admin + integration users, SDK messages and filters. */
export function seedPlatform(ops: Operations, catalog: Catalog): void {
  const admin: CallerContext = { userId: DemoIds.adminUser, callerId: DemoIds.adminUser, correlationId: 'seed' };
  const put = (logical: string, body: Record<string, unknown>) => ops.create(admin, catalog.entity(logical), body);
  // The admin must exist before it can be createdby on anything: bootstrap it directly.
  const now = ops.clock.isoNow();
  const bootstrap = (logical: string, row: StoredRow) => {
    const meta = catalog.entity(logical);
    const r: StoredRow = { ...row, createdon: now, modifiedon: now, versionnumber: ops.store.nextVersion() };
    ops.store.put(meta.logicalName, String(row[meta.primaryId]), r);
  };
  bootstrap('businessunit', { businessunitid: DemoIds.businessUnit, name: 'simorg' });
  bootstrap('systemuser', {
    systemuserid: DemoIds.adminUser,
    firstname: 'Alex',
    lastname: 'Admin',
    fullname: 'Alex Admin',
    internalemailaddress: 'admin@simorg.example',
    domainname: 'admin@simorg.example',
    isdisabled: false,
    islicensed: true,
    accessmode: 0,
    azureactivedirectoryobjectid: demoId(0xaad, 1),
    _businessunitid_value: DemoIds.businessUnit,
    [`_businessunitid_value${LOOKUP_TYPE}`]: 'businessunit',
  });
  const bu = { 'businessunitid@odata.bind': `/businessunits(${DemoIds.businessUnit})` };
  put('systemuser', {
    systemuserid: DemoIds.integrationUser,
    firstname: '# BC Integration',
    lastname: '(application user)',
    internalemailaddress: 'bc-integration@simorg.example',
    applicationid: demoId(0xa99, 1),
    azureactivedirectoryobjectid: demoId(0xaad, 2),
    accessmode: 4,
    isdisabled: false,
    islicensed: false,
    ...bu,
  });
  for (const m of WEBHOOK_MESSAGES) put('sdkmessage', { sdkmessageid: DemoIds.message[m], name: m });
  let n = 0;
  for (const meta of catalog.byLogicalName.values()) {
    if (meta.system) continue;
    for (const m of WEBHOOK_MESSAGES) {
      n++;
      put('sdkmessagefilter', {
        sdkmessagefilterid: demoId(0x3f, n),
        name: `${m} of ${meta.logicalName}`,
        primaryobjecttypecode: meta.logicalName,
        secondaryobjecttypecode: 'none',
        iscustomprocessingstepallowed: true,
        'sdkmessageid@odata.bind': `/sdkmessages(${DemoIds.message[m]})`,
      });
    }
  }
  put('transactioncurrency', {
    transactioncurrencyid: DemoIds.usd,
    currencyname: 'US Dollar',
    isocurrencycode: 'USD',
    currencysymbol: '$',
    exchangerate: 1,
    currencyprecision: 2,
  });
}

/** Demo rows: users and a team, units, price list, accounts/contacts overlapping the BC demo company, an order. */
export function seedDemo(ops: Operations, catalog: Catalog): void {
  const admin: CallerContext = { userId: DemoIds.adminUser, callerId: DemoIds.adminUser, correlationId: 'seed' };
  const put = (logical: string, body: Record<string, unknown>) => ops.create(admin, catalog.entity(logical), body);
  const bu = { 'businessunitid@odata.bind': `/businessunits(${DemoIds.businessUnit})` };
  const users: Array<[string, string, string, Record<string, unknown>]> = [
    [DemoIds.salesUserAnnette, 'Annette', 'Hill', { jobtitle: 'Sales Manager', mobilephone: '+1 425 555 0101' }],
    [DemoIds.salesUserPeter, 'Peter', 'Saddow', { jobtitle: 'Account Manager' }],
    [DemoIds.disabledUser, 'Former', 'Employee', { isdisabled: true }],
    [DemoIds.unlicensedUser, 'Unlicensed', 'Viewer', { islicensed: false }],
    [DemoIds.salesUserJim, 'Jim', 'Olive', { jobtitle: 'Sales Manager' }],
  ];
  users.forEach(([id, first, last, extra], i) => {
    put('systemuser', {
      systemuserid: id,
      firstname: first,
      lastname: last,
      internalemailaddress: `${first.toLowerCase()}.${last.toLowerCase()}@simorg.example`,
      domainname: `${first.toLowerCase()}.${last.toLowerCase()}@simorg.example`,
      azureactivedirectoryobjectid: demoId(0xaad, 3 + i),
      accessmode: 0,
      isdisabled: false,
      islicensed: true,
      isintegrationuser: false,
      ...extra,
      ...bu,
    });
  });
  put('team', {
    teamid: DemoIds.owningTeam,
    name: 'BCI - CRONUS USA, Inc.',
    teamtype: 0,
    ...bu,
    'administratorid@odata.bind': `/systemusers(${DemoIds.adminUser})`,
  });
  // teamroles is filled by Associate (not simulated): the intersect row goes straight into the store.
  ops.store.put('teamroles', demoId(0x7f7e, 1), {
    teamroleid: demoId(0x7f7e, 1),
    teamid: DemoIds.owningTeam,
    roleid: DemoIds.owningTeamRole,
    versionnumber: ops.store.nextVersion(),
  });
  put('uomschedule', { uomscheduleid: DemoIds.unitGroup, name: 'Default Unit', baseuomname: 'Primary Unit' });
  put('pricelevel', {
    pricelevelid: DemoIds.priceList,
    name: 'Default Price List',
    'transactioncurrencyid@odata.bind': `/transactioncurrencies(${DemoIds.usd})`,
  });
  // The first five names match CRONUS customers in the BC simulator, so match-based coupling finds them.
  const accounts: Array<[string, string, string, Record<string, unknown>]> = [
    ['Adatum Corporation', 'Atlanta', 'US-GA 31772', { telephone1: '+1 404 555 0100', paymenttermscode: 1 }],
    ['Trey Research', 'Chicago', 'US-IL 61236', { telephone1: '+1 312 555 0101', address1_shippingmethodcode: 4 }],
    ['School of Fine Art', 'Miami', 'US-FL 37125', { address1_freighttermscode: 1 }],
    ['Alpine Ski House', 'Atlanta', 'US-GA 31772', { paymenttermscode: 3 }],
    ['Relecloud', 'Miami', 'US-FL 37125', {}],
    ['Northwind Traders', 'Seattle', '98052', { customertypecode: 8 }],
    ['Litware, Inc.', 'Redmond', '98052', {}],
    ['Fabrikam Robotics', 'Denver', '80202', { customertypecode: 11 }],
  ];
  accounts.forEach(([name, city, zip, extra], i) => {
    put('account', {
      accountid: DemoIds.account(i + 1),
      name,
      address1_line1: `${100 + i} Main Street`,
      address1_city: city,
      address1_postalcode: zip,
      address1_country: 'US',
      customertypecode: 3,
      emailaddress1: `info@${name.toLowerCase().replace(/[^a-z]/g, '')}.example`,
      ...extra,
      'ownerid@odata.bind': i % 2 === 0 ? `/systemusers(${DemoIds.salesUserAnnette})` : `/teams(${DemoIds.owningTeam})`,
    });
  });
  const contacts: Array<[string, string, number]> = [
    ['Robert', 'Townes', 1],
    ['Helen', 'Ray', 2],
    ['Meagan', 'Bond', 3],
    ['Ian', 'Deberry', 4],
    ['Jesse', 'Homer', 5],
    // Northwind Traders (6) is a prospect: outside CUSTOMER's filter, so a contact of it could never get its parent.
    ['Nancy', 'Davolio', 7],
    ['Yvonne', 'McKay', 7],
  ];
  contacts.forEach(([first, last, acc], i) => {
    put('contact', {
      contactid: DemoIds.contact(i + 1),
      firstname: first,
      lastname: last,
      emailaddress1: `${first.toLowerCase()}@example.com`,
      jobtitle: 'Purchasing Agent',
      'parentcustomerid_account@odata.bind': `/accounts(${DemoIds.account(acc)})`,
    });
    if (acc <= 5) {
      ops.update(admin, catalog.entity('account'), DemoIds.account(acc), {
        'primarycontactid@odata.bind': `/contacts(${DemoIds.contact(i + 1)})`,
      });
    }
  });
  const products: Array<[string, string, number, number]> = [
    ['1896-S', 'ATHENS Desk', 1000.8, 1],
    ['1900-S', 'PARIS Guest Chair, black', 192.8, 1],
    ['1906-S', 'ATHENS Mobile Pedestal', 281.4, 1],
    ['1908-S', 'LONDON Swivel Chair, blue', 190.1, 1],
    ['SVC-CONSULT', 'Consulting Hours', 125, 3],
  ];
  products.forEach(([number, name, price, type], i) => {
    put('product', {
      productid: DemoIds.product(i + 1),
      productnumber: number,
      name,
      price,
      producttypecode: type,
      quantitydecimal: 2,
      'defaultuomscheduleid@odata.bind': `/uomschedules(${DemoIds.unitGroup})`,
      'defaultuomid@odata.bind': `/uoms(${DemoIds.unitPcs})`,
    });
    // As BC does after the insert: the default price list (not valid for create), then publish (Draft -> Active).
    ops.update(admin, catalog.entity('product'), DemoIds.product(i + 1), {
      'pricelevelid@odata.bind': `/pricelevels(${DemoIds.priceList})`,
      statecode: 0,
      statuscode: 1,
    });
    put('productpricelevel', {
      productpricelevelid: demoId(0x0f, i + 1),
      amount: price,
      pricingmethodcode: 1,
      'pricelevelid@odata.bind': `/pricelevels(${DemoIds.priceList})`,
      'productid@odata.bind': `/products(${DemoIds.product(i + 1)})`,
      'uomid@odata.bind': `/uoms(${DemoIds.unitPcs})`,
    });
  });
  put('opportunity', {
    opportunityid: DemoIds.opportunity,
    name: 'Adatum: 10 ATHENS desks for the new office',
    estimatedvalue: 10008,
    estimatedclosedate: '2026-12-15',
    closeprobability: 60,
    'customerid_account@odata.bind': `/accounts(${DemoIds.account(1)})`,
    'parentaccountid@odata.bind': `/accounts(${DemoIds.account(1)})`,
    'parentcontactid@odata.bind': `/contacts(${DemoIds.contact(1)})`,
    'pricelevelid@odata.bind': `/pricelevels(${DemoIds.priceList})`,
  });
  const order = catalog.entity('salesorder');
  put('salesorder', {
    salesorderid: DemoIds.salesOrder,
    name: 'Trey Research furniture order',
    ordernumber: 'ORD-01001-SIM',
    description:
      'Deliver to the loading dock at the back of the building between 8 and 11 am. Call Helen Ray on arrival; the front entrance is closed for renovation until further notice.',
    paymenttermscode: 1,
    shippingmethodcode: 4,
    freighttermscode: 1,
    requestdeliveryby: '2026-12-01',
    'customerid_account@odata.bind': `/accounts(${DemoIds.account(2)})`,
    'pricelevelid@odata.bind': `/pricelevels(${DemoIds.priceList})`,
    'ownerid@odata.bind': `/systemusers(${DemoIds.salesUserPeter})`,
    order_details: [
      {
        salesorderdetailid: DemoIds.salesOrderLine(1),
        quantity: 2,
        priceperunit: 1000.8,
        ispriceoverridden: true,
        lineitemnumber: 1,
        sequencenumber: 1,
        producttypecode: 1,
        'productid@odata.bind': `/products(${DemoIds.product(1)})`,
        'uomid@odata.bind': `/uoms(${DemoIds.unitPcs})`,
      },
      {
        salesorderdetailid: DemoIds.salesOrderLine(2),
        quantity: 1,
        priceperunit: 450,
        ispriceoverridden: true,
        isproductoverridden: true,
        lineitemnumber: 2,
        sequencenumber: 2,
        producttypecode: 1,
        productdescription:
          'Custom walnut conference table, 3.6 m, with integrated power and data ports at each seat, cable tray underneath and matching credenza',
      },
    ],
  });
  // Submitted last: lines of a submitted order are read-only.
  ops.update(admin, order, DemoIds.salesOrder, { statecode: 1, statuscode: 3 });
}

/**
 * Adds `accounts` (and `contacts`) bulk rows straight into the store: ~100,000 per second, no webhooks, ids
 * `bulk…`-deterministic so two runs produce the same rows. Versions still increase so delta links see them.
 */
export function seedBulk(store: Store, ops: Operations, counts: { accounts?: number; contacts?: number }): void {
  const now = ops.clock.isoNow();
  const base = ops.baseCurrencyId();
  const common = (): StoredRow => ({
    createdon: now,
    modifiedon: now,
    _createdby_value: DemoIds.adminUser,
    [`_createdby_value${LOOKUP_TYPE}`]: 'systemuser',
    _modifiedby_value: DemoIds.adminUser,
    [`_modifiedby_value${LOOKUP_TYPE}`]: 'systemuser',
    _ownerid_value: DemoIds.adminUser,
    [`_ownerid_value${LOOKUP_TYPE}`]: 'systemuser',
    _owninguser_value: DemoIds.adminUser,
    [`_owninguser_value${LOOKUP_TYPE}`]: 'systemuser',
    _owningbusinessunit_value: DemoIds.businessUnit,
    [`_owningbusinessunit_value${LOOKUP_TYPE}`]: 'businessunit',
    ...(base
      ? { _transactioncurrencyid_value: base, [`_transactioncurrencyid_value${LOOKUP_TYPE}`]: 'transactioncurrency', exchangerate: 1 }
      : {}),
    statecode: 0,
    statuscode: 1,
  });
  const accounts = store.table('account');
  const startA = accounts.rows.size;
  for (let i = 0; i < (counts.accounts ?? 0); i++) {
    const n = startA + i + 1;
    const id = demoId(0xb0acc, n);
    store.put('account', id, {
      ...common(),
      accountid: id,
      name: `Bulk Account ${String(n).padStart(6, '0')}`,
      accountnumber: `BULK${String(n).padStart(6, '0')}`,
      address1_city: ['Seattle', 'Atlanta', 'Chicago', 'Miami', 'Denver'][n % 5],
      customertypecode: 3,
      versionnumber: store.nextVersion(),
    });
  }
  const contacts = store.table('contact');
  const startC = contacts.rows.size;
  for (let i = 0; i < (counts.contacts ?? 0); i++) {
    const n = startC + i + 1;
    const id = demoId(0xb0c0c, n);
    store.put('contact', id, {
      ...common(),
      contactid: id,
      firstname: 'Bulk',
      lastname: `Contact ${String(n).padStart(6, '0')}`,
      fullname: `Bulk Contact ${String(n).padStart(6, '0')}`,
      yomifullname: `Bulk Contact ${String(n).padStart(6, '0')}`,
      versionnumber: store.nextVersion(),
    });
  }
}
