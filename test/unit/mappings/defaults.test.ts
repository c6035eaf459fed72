import { describe, expect, it } from 'vitest';
import {
  ALL_DEFAULT_MAPPING_NAMES,
  COMPANY_FILTER,
  type DefaultMappingSetup,
  defaultMappings,
  type FieldMapping,
  queueNameFor,
  type TableMapping,
} from '../../../shared/domain/mappings';

/*
 * Expected rows transcribed from bc-integration-reference.md (section 1.3 table mappings, section 2 field mappings),
 * in the reference's own vocabulary: AL field | Dataverse column | Dir | Const | Val | flags. "–" = field 0 in BC.
 * The reference is not read at test time (it lives outside the repository).
 */

const PERSON_FULL: DefaultMappingSetup = {
  ownershipModel: 'Person',
  salesIntegration: true,
  unitGroupMapping: false,
  extendedPricing: false,
  salesOrderIntegration: 'legacy',
};

function rows(text: string): string[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const cells = line.split('|').map((c) => c.trim());
      while (cells.length < 6) cells.push('');
      return cells.join(' | ');
    });
}

const DIR = { Bidirectional: 'Bi', ToIntegrationTable: '→DV', FromIntegrationTable: '→BC' } as const;

function actualRow(f: FieldMapping): string {
  const flags = [f.notNull ? 'NotNull' : '', f.clearValueOnFailedSync ? 'Clear' : '', f.status === 'Disabled' ? 'disabled' : '']
    .filter(Boolean)
    .join(' ');
  const constant = f.constant ? (f.constant.label ?? String(f.constant.value)) : '';
  return [f.alField ?? '–', f.dataverseColumn ?? '–', DIR[f.direction], constant, f.validateOnWrite ? 'Yes' : 'No', flags].join(' | ');
}

function find(mappings: TableMapping[], name: string): TableMapping {
  const m = mappings.find((x) => x.name === name);
  if (!m) throw new Error(`mapping ${name} missing from ${mappings.map((x) => x.name).join(', ')}`);
  return m;
}

const OWNER = `
  – | owneridtype | →DV | systemuser | No
  Salesperson Code | ownerid | →DV | | Yes | NotNull`;

const ACCOUNT_BODY = `
  Name | name | Bi | | Yes
  Contact | address1_primarycontactname | Bi | | No
  Address | address1_line1 | Bi | | Yes
  Address 2 | address1_line2 | Bi | | Yes
  Post Code | address1_postalcode | Bi | | Yes
  City | address1_city | Bi | | Yes
  Country/Region Code | address1_country | Bi | | No
  County | address1_stateorprovince | Bi | | Yes
  Currency Code | transactioncurrencyid | Bi | | Yes
  E-Mail | emailaddress1 | Bi | | Yes
  Fax No. | fax | Bi | | Yes
  Home Page | websiteurl | Bi | | Yes
  Phone No. | telephone1 | Bi | | Yes
  Shipment Method Code | address1_freighttermscode | Bi | | Yes
  Shipping Agent Code | address1_shippingmethodcode | Bi | | Yes
  Payment Terms Code | paymenttermscode | Bi | | Yes`;

const ACCOUNT_TAIL = `
  Primary Contact No. | primarycontactid | Bi | | Yes | Clear
  No. | accountnumber | →DV | | Yes | disabled
  Mobile Phone No. | telephone2 | Bi | | Yes | disabled`;

const SHIP_TO_ORDER = `
  Ship-to Name | shipto_name | →DV | | Yes
  Ship-to Address | shipto_line1 | →DV | | Yes
  Ship-to Address 2 | shipto_line2 | →DV | | Yes
  Ship-to City | shipto_city | →DV | | Yes
  Ship-to Country/Region Code | shipto_country | →DV | | Yes
  Ship-to Post Code | shipto_postalcode | →DV | | Yes
  Ship-to County | shipto_stateorprovince | →DV | | Yes`;

const BILL_TO_ORDER = `
  Bill-to Name | billto_name | →DV | | Yes
  Bill-to Address | billto_line1 | →DV | | Yes
  Bill-to Address 2 | billto_line2 | →DV | | Yes
  Bill-to City | billto_city | →DV | | Yes
  Bill-to Country/Region Code | billto_country | →DV | | Yes
  Bill-to Post Code | billto_postalcode | →DV | | Yes
  Bill-to County | billto_stateorprovince | →DV | | Yes`;

/** Section 2 field tables, keyed by "<mapping>" or "<mapping>#<variant>". */
const FIELD_ROWS: Record<string, string> = {
  SALESPEOPLE: `
    E-Mail | internalemailaddress | →BC | | Yes
    Name | fullname | →BC | | Yes
    Phone No. | mobilephone | →BC | | Yes
    Job Title | jobtitle | Bi | | Yes | disabled
    E-Mail 2 | personalemailaddress | Bi | | Yes | disabled`,
  CUSTOMER: `${OWNER}${ACCOUNT_BODY}
    Credit Limit (LCY) | creditlimit | →DV | | Yes${ACCOUNT_TAIL}`,
  VENDOR: `
    – | owneridtype | →DV | systemuser | No
    Purchaser Code | ownerid | →DV | | Yes | NotNull${ACCOUNT_BODY}${ACCOUNT_TAIL}`,
  CONTACT: `${OWNER}
    Currency Code | transactioncurrencyid | Bi | | Yes
    Address | address1_line1 | Bi | | Yes
    Address 2 | address1_line2 | Bi | | Yes
    Post Code | address1_postalcode | Bi | | Yes
    City | address1_city | Bi | | Yes
    Country/Region Code | address1_country | Bi | | No
    County | address1_stateorprovince | Bi | | Yes
    E-Mail | emailaddress1 | Bi | | Yes
    Fax No. | fax | Bi | | Yes
    First Name | firstname | Bi | | Yes
    Middle Name | middlename | Bi | | Yes
    Surname | lastname | Bi | | Yes
    Home Page | websiteurl | Bi | | Yes
    Mobile Phone No. | mobilephone | Bi | | Yes
    Pager | pager | Bi | | Yes
    Phone No. | telephone1 | Bi | | Yes
    Type | – | →BC | Person | Yes
    – | parentcustomeridtype | →DV | account | No
    Salutation Code | salutation | Bi | | Yes | disabled`,
  CURRENCY: `
    Code | isocurrencycode | →DV | | Yes
    Symbol | currencysymbol | →DV | | Yes
    Description | currencyname | →DV | | Yes`,
  'PAYMENT TERMS': `Code | paymenttermscode | →DV | | Yes`,
  // Created FromIntegrationTable; ResetOptionMappingConfiguration forces →DV, the state we ship.
  'SHIPMENT METHOD': `Code | address1_freighttermscode | →DV | | Yes`,
  'SHIPPING AGENT': `Code | address1_shippingmethodcode | →DV | | Yes`,
  'ITEM-PRODUCT#unitGroupsOff': `
    No. | productnumber | →DV | | Yes
    Description | name | Bi | | Yes
    Unit Price | price | →DV | | Yes
    Unit Cost | standardcost | →DV | | Yes
    Unit Cost | currentcost | →DV | | Yes
    Unit Volume | stockvolume | →DV | | Yes
    Gross Weight | stockweight | →DV | | Yes
    Vendor No. | vendorid | →DV | | Yes
    Vendor Item No. | vendorpartnumber | →DV | | Yes
    Inventory | quantityonhand | →DV | | Yes
    Base Unit of Measure | defaultuomscheduleid | Bi | | Yes`,
  'ITEM-PRODUCT#unitGroupsOn': `
    No. | productnumber | →DV | | Yes
    Description | name | Bi | | Yes
    Unit Price | price | →DV | | Yes
    Unit Cost | standardcost | →DV | | Yes
    Unit Cost | currentcost | →DV | | Yes
    Unit Volume | stockvolume | →DV | | Yes
    Gross Weight | stockweight | →DV | | Yes
    Vendor No. | vendorid | →DV | | Yes
    Vendor Item No. | vendorpartnumber | →DV | | Yes
    Inventory | quantityonhand | →DV | | Yes
    Base Unit of Measure | defaultuomid | Bi | | Yes`,
  'RESOURCE-PRODUCT#unitGroupsOff': `
    No. | productnumber | →DV | | Yes
    Name | name | Bi | | Yes
    Unit Price | price | →DV | | Yes
    Unit Cost | standardcost | →DV | | Yes
    Unit Cost | currentcost | →DV | | Yes
    Vendor No. | vendorid | →DV | | Yes
    Capacity | quantityonhand | →DV | | Yes`,
  'RESOURCE-PRODUCT#unitGroupsOn': `
    No. | productnumber | →DV | | Yes
    Name | name | Bi | | Yes
    Unit Price | price | →DV | | Yes
    Unit Cost | standardcost | →DV | | Yes
    Unit Cost | currentcost | →DV | | Yes
    Vendor No. | vendorid | →DV | | Yes
    Capacity | quantityonhand | →DV | | Yes
    Base Unit of Measure | defaultuomid | →DV | | Yes`,
  'UNIT OF MEASURE': `Code | baseuomname | →DV | | Yes`,
  'UNIT GROUP': `
    Source No. | name | →DV | | Yes
    Source No. | baseuomname | →DV | | Yes`,
  'ITEM UOM': `
    Code | name | →DV | | Yes
    Qty. per Unit of Measure | quantity | →DV | | Yes`,
  'RESOURCE UOM': `
    Code | name | →DV | | Yes
    Qty. per Unit of Measure | quantity | →DV | | Yes`,
  'CUSTPRCGRP-PRICE': `Code | name | →DV | | Yes`,
  'SALESPRC-PRODPRICE': `
    Sales Code | pricelevelid | →DV | | Yes
    Item No. | productid | →DV | | Yes
    Item No. | productnumber | →DV | | Yes | disabled
    Currency Code | transactioncurrencyid | →DV | | Yes | disabled
    – | pricingmethodcode | →DV | CurrencyAmount | No
    Unit Price | amount | →DV | | Yes`,
  'PLHEADER-PRICE': `
    Code | name | →DV | | Yes
    Description | description | →DV | | Yes
    Currency Code | transactioncurrencyid | →DV | | Yes
    Starting Date | begindate | →DV | | Yes
    Ending Date | enddate | →DV | | Yes`,
  // The reference gives no Val column for price list lines ("all →DV"); BC's InsertIntegrationFieldMapping calls
  // there validate like every other non-constant row, the constant not.
  'PLLINE-PRODPRICE#unitGroupsOff': `
    Price List Code | pricelevelid | →DV | | Yes
    Asset No. | productid | →DV | | Yes
    Asset No. | productnumber | →DV | | Yes | disabled
    Currency Code | transactioncurrencyid | →DV | | Yes | disabled
    – | pricingmethodcode | →DV | CurrencyAmount | No
    Unit of Measure Code | uomscheduleid | →DV | | Yes
    Unit Price | amount | →DV | | Yes`,
  'PLLINE-PRODPRICE#unitGroupsOn': `
    Price List Code | pricelevelid | →DV | | Yes
    Asset No. | productid | →DV | | Yes
    Asset No. | productnumber | →DV | | Yes | disabled
    Currency Code | transactioncurrencyid | →DV | | Yes | disabled
    – | pricingmethodcode | →DV | CurrencyAmount | No
    Unit of Measure Code | uomid | →DV | | Yes
    Unit Price | amount | →DV | | Yes`,
  OPPORTUNITY: `
    Description | name | Bi | | Yes
    Contact No. | parentcontactid | →DV | | Yes
    Contact Company No. | parentaccountid | →DV | | Yes${OWNER}
    Estimated Value (LCY) | estimatedvalue | →DV | | Yes
    Estimated Closing Date | estimatedclosedate | →DV | | Yes
    Date Closed | actualclosedate | →DV | | Yes | disabled
    Probability % | closeprobability | →DV | | Yes | disabled
    Calcd. Current Value (LCY) | actualvalue | →DV | | Yes | disabled`,
  'POSTEDSALESINV-INV': `
    No. | invoicenumber | →DV | | Yes${OWNER}
    Currency Code | transactioncurrencyid | →DV | | Yes
    Due Date | duedate | →DV | | Yes${SHIP_TO_ORDER}
    Shipment Date | datedelivered | →DV | | Yes${BILL_TO_ORDER}
    Amount | totalamountlessfreight | →DV | | Yes
    Amount Including VAT | totalamount | →DV | | Yes
    Invoice Discount Amount | discountamount | →DV | | Yes
    Shipping Agent Code | shippingmethodcode | →DV | | Yes
    Payment Terms Code | paymenttermscode | →DV | | Yes
    Work Description | description | →DV | | No`,
  'POSTEDSALESLINE-INV': `
    Quantity | quantity | →DV | | Yes
    Line Discount Amount | manualdiscountamount | →DV | | Yes
    Unit Price | priceperunit | →DV | | Yes
    – | ispriceoverridden | →DV | 1 | Yes
    Amount | baseamount | →DV | | Yes
    Amount Including VAT | extendedamount | →DV | | Yes`,
  'SALESORDER-ORDER#legacy': `
    No. | ordernumber | →DV | | Yes${OWNER}
    Currency Code | transactioncurrencyid | →DV | | Yes${SHIP_TO_ORDER}
    Last Shipment Date | datefulfilled | →DV | | Yes${BILL_TO_ORDER}
    Amount | totalamountlessfreight | →DV | | Yes
    Amount Including VAT | totalamount | →DV | | Yes
    Invoice Discount Amount | discountamount | →DV | | Yes
    Shipping Agent Code | shippingmethodcode | →DV | | Yes
    Payment Terms Code | paymenttermscode | →DV | | Yes
    Requested Delivery Date | requestdeliveryby | →DV | | Yes`,
  'SALESORDER-ORDER#bidirectional': `${OWNER}
    Document Type | – | →BC | Order | Yes
    No. | bcbi_businesscentralordernumber | →DV | | Yes
    Your Reference | ordernumber | →BC | | Yes
    – | customeridtype | →DV | account | No
    Sell-to Customer No. | customerid | Bi | | Yes
    Currency Code | transactioncurrencyid | Bi | | Yes
    Ship-to Name | shipto_name | Bi | | Yes
    Ship-to Address | shipto_line1 | Bi | | Yes
    Ship-to Address 2 | shipto_line2 | Bi | | Yes
    Ship-to Post Code | shipto_postalcode | Bi | | Yes
    Ship-to City | shipto_city | Bi | | Yes
    Ship-to Country/Region Code | shipto_country | Bi | | Yes
    Ship-to County | shipto_stateorprovince | Bi | | Yes
    Last Shipment Date | datefulfilled | →DV | | Yes
    Bill-to Address | billto_line1 | Bi | | Yes
    Bill-to Address 2 | billto_line2 | Bi | | Yes
    Bill-to Post Code | billto_postalcode | Bi | | Yes
    Bill-to City | billto_city | Bi | | Yes
    Bill-to Country/Region Code | billto_country | Bi | | Yes
    Bill-to County | billto_stateorprovince | Bi | | Yes
    Invoice Discount Amount | discountamount | →DV | | Yes
    Shipping Agent Code | shippingmethodcode | Bi | | Yes
    Payment Terms Code | paymenttermscode | Bi | | Yes
    Shipment Method Code | freighttermscode | Bi | | Yes
    Requested Delivery Date | requestdeliveryby | Bi | | Yes
    Payment Discount % | discountpercentage | Bi | | Yes
    Work Description | description | Bi | | No`,
  // Quantity Shipped, Currency Code, Amount and Amount Including VAT are Bi in BC's own mapping, which writes the
  // table directly; through the API they are read-only (BC computes them), so they flow to Dataverse only.
  'SOLINE-ORDERDETAIL': `
    Document Type | – | →BC | Order | Yes
    – | producttypecode | →DV | Product | No
    No. | productid | Bi | | Yes
    Line No. | bcbi_businesscentrallinenumber | Bi | | Yes
    Quantity | quantity | Bi | | Yes
    Quantity Shipped | quantityshipped | →DV | | Yes
    – | ispriceoverridden | →DV | 1 | Yes
    Unit Price | priceperunit | Bi | | Yes
    Currency Code | transactioncurrencyid | →DV | | Yes
    Amount | baseamount | →DV | | Yes
    Amount Including VAT | extendedamount | →DV | | Yes
    Requested Delivery Date | requestdeliveryby | Bi | | Yes`,
};

/** Which setup produces each field table variant. */
const VARIANTS: Array<{ key: string; name: string; setup: Partial<DefaultMappingSetup> }> = [
  ...[
    'SALESPEOPLE',
    'CUSTOMER',
    'VENDOR',
    'CONTACT',
    'CURRENCY',
    'PAYMENT TERMS',
    'SHIPMENT METHOD',
    'SHIPPING AGENT',
    'UNIT OF MEASURE',
    'CUSTPRCGRP-PRICE',
    'SALESPRC-PRODPRICE',
    'OPPORTUNITY',
    'POSTEDSALESINV-INV',
    'POSTEDSALESLINE-INV',
  ].map((name) => ({ key: name, name, setup: {} })),
  { key: 'ITEM-PRODUCT#unitGroupsOff', name: 'ITEM-PRODUCT', setup: {} },
  { key: 'ITEM-PRODUCT#unitGroupsOn', name: 'ITEM-PRODUCT', setup: { unitGroupMapping: true } },
  { key: 'RESOURCE-PRODUCT#unitGroupsOff', name: 'RESOURCE-PRODUCT', setup: {} },
  { key: 'RESOURCE-PRODUCT#unitGroupsOn', name: 'RESOURCE-PRODUCT', setup: { unitGroupMapping: true } },
  { key: 'UNIT GROUP', name: 'UNIT GROUP', setup: { unitGroupMapping: true } },
  { key: 'ITEM UOM', name: 'ITEM UOM', setup: { unitGroupMapping: true } },
  { key: 'RESOURCE UOM', name: 'RESOURCE UOM', setup: { unitGroupMapping: true } },
  { key: 'PLHEADER-PRICE', name: 'PLHEADER-PRICE', setup: { extendedPricing: true } },
  { key: 'PLLINE-PRODPRICE#unitGroupsOff', name: 'PLLINE-PRODPRICE', setup: { extendedPricing: true } },
  { key: 'PLLINE-PRODPRICE#unitGroupsOn', name: 'PLLINE-PRODPRICE', setup: { extendedPricing: true, unitGroupMapping: true } },
  { key: 'SALESORDER-ORDER#legacy', name: 'SALESORDER-ORDER', setup: { salesOrderIntegration: 'legacy' } },
  { key: 'SALESORDER-ORDER#bidirectional', name: 'SALESORDER-ORDER', setup: { salesOrderIntegration: 'bidirectional' } },
  { key: 'SOLINE-ORDERDETAIL', name: 'SOLINE-ORDERDETAIL', setup: { salesOrderIntegration: 'bidirectional' } },
];

describe('default field mappings match the reference row by row (section 2)', () => {
  it('covers every field table of the reference', () => {
    expect(VARIANTS.map((v) => v.key).sort()).toEqual(Object.keys(FIELD_ROWS).sort());
  });

  for (const v of VARIANTS) {
    it(`${v.key}`, () => {
      const mapping = find(defaultMappings({ ...PERSON_FULL, ...v.setup }), v.name);
      expect(mapping.fields.map(actualRow)).toEqual(rows(FIELD_ROWS[v.key] ?? ''));
    });
  }

  it('validateIntegrationTableField is false for every default field (section 2 legend)', () => {
    const all = defaultMappings({ ...PERSON_FULL, unitGroupMapping: true, salesOrderIntegration: 'bidirectional' });
    expect(all.flatMap((m) => m.fields).filter((f) => f.validateIntegrationTableField)).toEqual([]);
  });

  it('Team ownership drops the owner rows (owneridtype, ownerid) everywhere', () => {
    const team = defaultMappings({ ...PERSON_FULL, ownershipModel: 'Team', salesOrderIntegration: 'bidirectional' });
    const ownerColumns = team.flatMap((m) =>
      m.fields.filter((f) => f.dataverseColumn === 'ownerid' || f.dataverseColumn === 'owneridtype'),
    );
    expect(ownerColumns).toEqual([]);
    const customer = find(team, 'CUSTOMER');
    expect(customer.fields.map(actualRow)).toEqual(rows(FIELD_ROWS.CUSTOMER ?? '').slice(2));
    expect(customer.ownership).toBe('Team');
  });
});

/** Section 1.3, one object per row. Filters are our OData rendering of the AL conditions quoted beside them. */
interface TableRow {
  bcTable: string;
  bcTableId: number;
  dataverseEntity: string;
  direction: TableMapping['direction'];
  socr: boolean;
  tableFilter: string;
  integrationTableFilter: string;
  dependencies: string[];
  /** [minutes between runs, inactivity timeout]; null = no job queue entry. */
  job: [number, number] | null;
  createNewIfNoMatch?: boolean;
  synchAfterMatch?: boolean;
  matchFields?: string[];
  deletionConflict?: TableMapping['deletionConflictResolution'];
  optionMapping?: boolean;
  parent?: string;
}

const CF = COMPANY_FILTER;
const TABLE_ROWS: Record<string, TableRow> = {
  // isdisabled = false AND islicensed = true AND isintegrationuser = false
  SALESPEOPLE: {
    bcTable: 'Salesperson/Purchaser',
    bcTableId: 13,
    dataverseEntity: 'systemuser',
    direction: 'FromIntegrationTable',
    socr: true,
    tableFilter: '',
    integrationTableFilter: 'isdisabled eq false and islicensed eq true and isintegrationuser eq false',
    dependencies: [],
    job: [30, 1440],
    createNewIfNoMatch: false,
    // Deliberately beyond BC, which leaves the criteria to the admin: match users by e-mail, then by name, and
    // couple right away, so a record with an uncoupled salesperson can couple it on the fly.
    matchFields: ['email -> internalemailaddress', 'displayName -> fullname'],
    synchAfterMatch: true,
  },
  // Blocked = ' ' / statecode = Active AND customertypecode = Customer AND company filter
  CUSTOMER: {
    bcTable: 'Customer',
    bcTableId: 18,
    dataverseEntity: 'account',
    direction: 'Bidirectional',
    socr: true,
    tableFilter: "blocked eq ' '",
    integrationTableFilter: `statecode eq 0 and customertypecode eq 3 and ${CF}`,
    dependencies: ['SALESPEOPLE', 'CURRENCY', 'PAYMENT TERMS', 'SHIPMENT METHOD', 'SHIPPING AGENT'],
    job: [30, 720],
  },
  VENDOR: {
    bcTable: 'Vendor',
    bcTableId: 23,
    dataverseEntity: 'account',
    direction: 'Bidirectional',
    socr: true,
    tableFilter: "blocked eq ' '",
    integrationTableFilter: `statecode eq 0 and customertypecode eq 11 and ${CF}`,
    dependencies: ['SALESPEOPLE', 'CURRENCY', 'PAYMENT TERMS', 'SHIPMENT METHOD', 'SHIPPING AGENT'],
    job: [30, 720],
  },
  // Type = Person AND "Company No." <> '' / parentcustomerid <> empty AND statecode = Active AND parentcustomeridtype = account AND company filter
  CONTACT: {
    bcTable: 'Contact',
    bcTableId: 5050,
    dataverseEntity: 'contact',
    direction: 'Bidirectional',
    socr: true,
    tableFilter: "type eq 'Person' and companyNumber ne ''",
    integrationTableFilter: `_parentcustomerid_value ne null and statecode eq 0 and parentcustomerid_account/accountid ne null and ${CF}`,
    dependencies: ['CUSTOMER', 'VENDOR'],
    job: [30, 720],
  },
  CURRENCY: {
    bcTable: 'Currency',
    bcTableId: 4,
    dataverseEntity: 'transactioncurrency',
    direction: 'ToIntegrationTable',
    socr: true,
    tableFilter: '',
    integrationTableFilter: '',
    dependencies: [],
    job: [30, 720],
    createNewIfNoMatch: true,
    synchAfterMatch: true,
    matchFields: ['code -> isocurrencycode'],
  },
  'PAYMENT TERMS': {
    bcTable: 'Payment Terms',
    bcTableId: 3,
    dataverseEntity: 'account',
    direction: 'ToIntegrationTable',
    socr: true,
    tableFilter: '',
    integrationTableFilter: '',
    dependencies: [],
    job: [30, 1440],
    createNewIfNoMatch: true,
    synchAfterMatch: true,
    matchFields: ['code -> paymenttermscode'],
    optionMapping: true,
  },
  'SHIPMENT METHOD': {
    bcTable: 'Shipment Method',
    bcTableId: 10,
    dataverseEntity: 'account',
    direction: 'ToIntegrationTable',
    socr: true,
    tableFilter: '',
    integrationTableFilter: '',
    dependencies: [],
    job: [30, 1440],
    createNewIfNoMatch: true,
    synchAfterMatch: true,
    matchFields: ['code -> address1_freighttermscode'],
    optionMapping: true,
  },
  'SHIPPING AGENT': {
    bcTable: 'Shipping Agent',
    bcTableId: 291,
    dataverseEntity: 'account',
    direction: 'ToIntegrationTable',
    socr: true,
    tableFilter: '',
    integrationTableFilter: '',
    dependencies: [],
    job: [30, 1440],
    createNewIfNoMatch: true,
    synchAfterMatch: true,
    matchFields: ['code -> address1_shippingmethodcode'],
    optionMapping: true,
  },
  'UNIT OF MEASURE': {
    bcTable: 'Unit of Measure',
    bcTableId: 204,
    dataverseEntity: 'uomschedule',
    direction: 'ToIntegrationTable',
    socr: true,
    tableFilter: '',
    integrationTableFilter: '',
    dependencies: [],
    job: [30, 720],
  },
  'UNIT GROUP': {
    bcTable: 'Unit Group',
    bcTableId: 5400,
    dataverseEntity: 'uomschedule',
    direction: 'ToIntegrationTable',
    socr: true,
    tableFilter: '',
    integrationTableFilter: '',
    dependencies: [],
    job: [30, 720],
    createNewIfNoMatch: true,
    synchAfterMatch: true,
    matchFields: ['sourceNumber -> name'],
  },
  'ITEM UOM': {
    bcTable: 'Item Unit of Measure',
    bcTableId: 5404,
    dataverseEntity: 'uom',
    direction: 'ToIntegrationTable',
    socr: true,
    tableFilter: '',
    integrationTableFilter: '',
    dependencies: ['UNIT GROUP'],
    job: [30, 720],
    createNewIfNoMatch: true,
    synchAfterMatch: true,
    matchFields: ['code -> name'],
  },
  'RESOURCE UOM': {
    bcTable: 'Resource Unit of Measure',
    bcTableId: 205,
    dataverseEntity: 'uom',
    direction: 'ToIntegrationTable',
    socr: true,
    tableFilter: '',
    integrationTableFilter: '',
    dependencies: ['UNIT GROUP'],
    job: [30, 720],
    createNewIfNoMatch: true,
    synchAfterMatch: true,
    matchFields: ['code -> name'],
  },
  // Blocked = false / company filter AND producttypecode = SalesInventory AND statecode = Active
  'ITEM-PRODUCT': {
    bcTable: 'Item',
    bcTableId: 27,
    dataverseEntity: 'product',
    direction: 'Bidirectional',
    socr: true,
    tableFilter: 'blocked eq false',
    integrationTableFilter: `${CF} and producttypecode eq 1 and statecode eq 0`,
    dependencies: ['UNIT OF MEASURE'],
    job: [30, 1440],
  },
  'RESOURCE-PRODUCT': {
    bcTable: 'Resource',
    bcTableId: 156,
    dataverseEntity: 'product',
    direction: 'Bidirectional',
    socr: true,
    tableFilter: 'blocked eq false',
    integrationTableFilter: `${CF} and producttypecode eq 3 and statecode eq 0`,
    dependencies: ['UNIT OF MEASURE'],
    job: [30, 720],
  },
  'CUSTPRCGRP-PRICE': {
    bcTable: 'Customer Price Group',
    bcTableId: 6,
    dataverseEntity: 'pricelevel',
    direction: 'ToIntegrationTable',
    socr: true,
    tableFilter: '',
    integrationTableFilter: CF,
    dependencies: ['CURRENCY', 'ITEM-PRODUCT'],
    job: [30, 1440],
  },
  // "Sales Type" = Customer Price Group AND "Sales Code" <> ''
  'SALESPRC-PRODPRICE': {
    bcTable: 'Sales Price',
    bcTableId: 7002,
    dataverseEntity: 'productpricelevel',
    direction: 'ToIntegrationTable',
    socr: false,
    tableFilter: "salesType eq 'Customer Price Group' and salesCode ne ''",
    integrationTableFilter: '',
    dependencies: ['CUSTPRCGRP-PRICE', 'ITEM-PRODUCT'],
    job: [30, 1440],
  },
  // "Price Type" = Sale AND "Amount Type" = Price AND "Allow Updating Defaults" = false (no default price list code)
  'PLHEADER-PRICE': {
    bcTable: 'Price List Header',
    bcTableId: 7000,
    dataverseEntity: 'pricelevel',
    direction: 'ToIntegrationTable',
    socr: true,
    tableFilter: "priceType eq 'Sale' and amountType eq 'Price' and allowUpdatingDefaults eq false",
    integrationTableFilter: CF,
    dependencies: ['CURRENCY', 'ITEM-PRODUCT'],
    job: [30, 1440],
  },
  // "Price Type" = Sale AND "Amount Type" = Price AND "Asset Type" = Item|Resource AND "Minimum Quantity" = 0
  'PLLINE-PRODPRICE': {
    bcTable: 'Price List Line',
    bcTableId: 7001,
    dataverseEntity: 'productpricelevel',
    direction: 'ToIntegrationTable',
    socr: false,
    tableFilter:
      "priceType eq 'Sale' and amountType eq 'Price' and (assetType eq 'Item' or assetType eq 'Resource') and minimumQuantity eq 0",
    integrationTableFilter: '',
    dependencies: ['PLHEADER-PRICE', 'ITEM-PRODUCT'],
    job: [30, 1440],
  },
  // Status = Not Started|In Progress; no job queue entry.
  OPPORTUNITY: {
    bcTable: 'Opportunity',
    bcTableId: 5092,
    dataverseEntity: 'opportunity',
    direction: 'Bidirectional',
    socr: false,
    tableFilter: "(status eq 'Not Started' or status eq 'In Progress')",
    integrationTableFilter: CF,
    dependencies: ['CONTACT'],
    job: null,
  },
  // Reference: no table filter on Sales Invoice Header (posted only); the salesInvoices API also lists drafts.
  'POSTEDSALESINV-INV': {
    bcTable: 'Sales Invoice Header',
    bcTableId: 112,
    dataverseEntity: 'invoice',
    direction: 'ToIntegrationTable',
    socr: true,
    tableFilter: "status ne 'Draft' and status ne 'In Review'",
    integrationTableFilter: CF,
    dependencies: ['ITEM-PRODUCT', 'RESOURCE-PRODUCT', 'OPPORTUNITY'],
    job: [30, 1440],
  },
  'POSTEDSALESLINE-INV': {
    bcTable: 'Sales Invoice Line',
    bcTableId: 113,
    dataverseEntity: 'invoicedetail',
    direction: 'ToIntegrationTable',
    socr: false,
    tableFilter: '',
    integrationTableFilter: '',
    dependencies: ['POSTEDSALESINV-INV'],
    job: null,
    parent: 'POSTEDSALESINV-INV',
  },
  // "Document Type" = Order (the salesOrders page) AND Status = Released (API status 'Open')
  'SALESORDER-ORDER': {
    bcTable: 'Sales Header',
    bcTableId: 36,
    dataverseEntity: 'salesorder',
    direction: 'ToIntegrationTable',
    socr: true,
    tableFilter: "status eq 'Open'",
    integrationTableFilter: CF,
    dependencies: ['ITEM-PRODUCT', 'RESOURCE-PRODUCT', 'OPPORTUNITY'],
    job: [30, 720],
  },
};

describe('default table mappings match the reference row by row (section 1.3)', () => {
  const variantsByName: Record<string, Partial<DefaultMappingSetup>> = {
    'UNIT GROUP': { unitGroupMapping: true },
    'ITEM UOM': { unitGroupMapping: true },
    'RESOURCE UOM': { unitGroupMapping: true },
    'PLHEADER-PRICE': { extendedPricing: true },
    'PLLINE-PRODPRICE': { extendedPricing: true },
  };

  const check = (m: TableMapping, r: TableRow) => {
    expect({
      bcTable: m.bc.table,
      bcTableId: m.bc.tableId,
      dataverseEntity: m.dataverse.entityLogicalName,
      direction: m.direction,
      socr: m.synchOnlyCoupledRecords,
      tableFilter: m.tableFilter,
      integrationTableFilter: m.integrationTableFilter,
      dependencies: m.dependencies,
      job: m.polling ? [m.polling.intervalMinutes, m.polling.inactivityTimeoutMinutes] : null,
      createNewIfNoMatch: m.couplingRules.createNewIfNoMatch,
      synchAfterMatch: m.couplingRules.synchAfterMatchBasedCoupling,
      matchFields: m.couplingRules.matchFields.map((f) => `${f.bcField} -> ${f.dataverseColumn}`),
      deletionConflict: m.deletionConflictResolution,
      updateConflict: m.updateConflictResolution,
      optionMapping: m.optionMapping,
      parent: m.parent,
      queueName: m.queueName,
    }).toEqual({
      createNewIfNoMatch: false,
      synchAfterMatch: false,
      matchFields: [],
      deletionConflict: 'None',
      updateConflict: 'None',
      optionMapping: false,
      ...r,
      parent: r.parent,
      queueName: queueNameFor(r.parent ?? m.name),
    });
  };

  for (const [name, r] of Object.entries(TABLE_ROWS)) {
    it(name, () => check(find(defaultMappings({ ...PERSON_FULL, ...(variantsByName[name] ?? {}) }), name), r));
  }

  it('ITEM-PRODUCT / RESOURCE-PRODUCT depend on ITEM UOM / RESOURCE UOM when unit groups are on', () => {
    const all = defaultMappings({ ...PERSON_FULL, unitGroupMapping: true });
    expect(find(all, 'ITEM-PRODUCT').dependencies).toEqual(['ITEM UOM']);
    expect(find(all, 'RESOURCE-PRODUCT').dependencies).toEqual(['RESOURCE UOM']);
  });

  it('PLHEADER-PRICE filters on Allow Updating Defaults = true when a default price list code is set', () => {
    const m = find(defaultMappings({ ...PERSON_FULL, extendedPricing: true, defaultPriceListCodeSet: true }), 'PLHEADER-PRICE');
    expect(m.tableFilter).toBe("priceType eq 'Sale' and amountType eq 'Price' and allowUpdatingDefaults eq true");
  });

  it('bidirectional SALESORDER-ORDER and SOLINE-ORDERDETAIL', () => {
    const all = defaultMappings({ ...PERSON_FULL, salesOrderIntegration: 'bidirectional' });
    check(find(all, 'SALESORDER-ORDER'), {
      ...(TABLE_ROWS['SALESORDER-ORDER'] as TableRow),
      direction: 'Bidirectional',
      integrationTableFilter: `${CF} and statecode eq 1`,
      dependencies: ['CUSTOMER', 'ITEM-PRODUCT', 'RESOURCE-PRODUCT', 'OPPORTUNITY'],
    });
    // Type = Item|Resource AND "Document Type" = Order; Deletion-Conflict Resolution = Remove Coupling.
    check(find(all, 'SOLINE-ORDERDETAIL'), {
      bcTable: 'Sales Line',
      bcTableId: 37,
      dataverseEntity: 'salesorderdetail',
      direction: 'Bidirectional',
      socr: false,
      tableFilter: "(lineType eq 'Item' or lineType eq 'Resource')",
      integrationTableFilter: '',
      dependencies: ['SALESORDER-ORDER'],
      job: null,
      deletionConflict: 'RemoveCoupling',
      parent: 'SALESORDER-ORDER',
    });
  });
});

describe('which default mappings exist (section 1.1)', () => {
  const names = (s: Partial<DefaultMappingSetup>) => defaultMappings({ ...PERSON_FULL, ...s }).map((m) => m.name);
  const BASE = ['SALESPEOPLE', 'CUSTOMER', 'VENDOR', 'CONTACT', 'CURRENCY', 'PAYMENT TERMS', 'SHIPMENT METHOD', 'SHIPPING AGENT'];

  it('Dataverse only: the eight base mappings', () => {
    expect(names({ salesIntegration: false })).toEqual(BASE);
  });

  it('Sales: units, products, pricing, invoices, opportunity, orders in BC order', () => {
    expect(names({})).toEqual([
      ...BASE,
      'UNIT OF MEASURE',
      'ITEM-PRODUCT',
      'RESOURCE-PRODUCT',
      'CUSTPRCGRP-PRICE',
      'SALESPRC-PRODPRICE',
      'POSTEDSALESINV-INV',
      'POSTEDSALESLINE-INV',
      'OPPORTUNITY',
      'SALESORDER-ORDER',
    ]);
    expect(names({ unitGroupMapping: true, extendedPricing: true, salesOrderIntegration: 'bidirectional' })).toEqual([
      ...BASE,
      'UNIT GROUP',
      'ITEM UOM',
      'RESOURCE UOM',
      'ITEM-PRODUCT',
      'RESOURCE-PRODUCT',
      'PLHEADER-PRICE',
      'PLLINE-PRODPRICE',
      'POSTEDSALESINV-INV',
      'POSTEDSALESLINE-INV',
      'OPPORTUNITY',
      'SALESORDER-ORDER',
      'SOLINE-ORDERDETAIL',
    ]);
    expect(names({ salesOrderIntegration: 'none' })).not.toContain('SALESORDER-ORDER');
  });

  it('Team ownership deletes SALESPEOPLE and drops it from every dependency list', () => {
    const team = defaultMappings({ ...PERSON_FULL, ownershipModel: 'Team' });
    expect(team.map((m) => m.name)).not.toContain('SALESPEOPLE');
    expect(team.flatMap((m) => m.dependencies)).not.toContain('SALESPEOPLE');
    expect(find(team, 'CUSTOMER').dependencies).toEqual(['CURRENCY', 'PAYMENT TERMS', 'SHIPMENT METHOD', 'SHIPPING AGENT']);
    expect(find(team, 'VENDOR').dependencies).toEqual(['CURRENCY', 'PAYMENT TERMS', 'SHIPMENT METHOD', 'SHIPPING AGENT']);
  });

  it('ALL_DEFAULT_MAPPING_NAMES is the union over every setup', () => {
    const union = new Set<string>();
    for (const unitGroupMapping of [false, true])
      for (const extendedPricing of [false, true])
        for (const salesOrderIntegration of ['none', 'legacy', 'bidirectional'] as const)
          for (const m of defaultMappings({ ...PERSON_FULL, unitGroupMapping, extendedPricing, salesOrderIntegration })) union.add(m.name);
    expect([...union].sort()).toEqual([...ALL_DEFAULT_MAPPING_NAMES].sort());
  });

  it('returns fresh objects on every call', () => {
    const a = defaultMappings(PERSON_FULL);
    find(a, 'CUSTOMER').fields.length = 0;
    expect(find(defaultMappings(PERSON_FULL), 'CUSTOMER').fields.length).toBeGreaterThan(0);
  });
});

/** API v2.0 property names from api-contracts.md C.3 (vendors from the same v2.0 reference pages). */
const API_V2_FIELDS: Record<string, string[]> = {
  customers: [
    'id',
    'number',
    'displayName',
    'type',
    'addressLine1',
    'addressLine2',
    'city',
    'state',
    'country',
    'postalCode',
    'phoneNumber',
    'email',
    'website',
    'salespersonCode',
    'balanceDue',
    'creditLimit',
    'taxLiable',
    'taxAreaId',
    'taxAreaDisplayName',
    'taxRegistrationNumber',
    'currencyId',
    'currencyCode',
    'paymentTermsId',
    'shipmentMethodId',
    'paymentMethodId',
    'blocked',
    'lastModifiedDateTime',
  ],
  vendors: [
    'id',
    'number',
    'displayName',
    'addressLine1',
    'addressLine2',
    'city',
    'state',
    'country',
    'postalCode',
    'phoneNumber',
    'email',
    'website',
    'taxRegistrationNumber',
    'currencyId',
    'currencyCode',
    'irs1099Code',
    'paymentTermsId',
    'paymentMethodId',
    'taxLiable',
    'blocked',
    'balance',
    'lastModifiedDateTime',
  ],
  contacts: [
    'id',
    'number',
    'type',
    'displayName',
    'jobTitle',
    'companyNumber',
    'companyName',
    'contactBusinessRelation',
    'addressLine1',
    'addressLine2',
    'city',
    'state',
    'country',
    'postalCode',
    'phoneNumber',
    'mobilePhoneNumber',
    'email',
    'website',
    'searchName',
    'privacyBlocked',
    'taxRegistrationNumber',
    'lastInteractionDate',
    'lastModifiedDateTime',
  ],
  items: [
    'id',
    'number',
    'displayName',
    'displayName2',
    'type',
    'itemCategoryId',
    'itemCategoryCode',
    'blocked',
    'gtin',
    'inventory',
    'unitPrice',
    'priceIncludesTax',
    'unitCost',
    'taxGroupId',
    'taxGroupCode',
    'baseUnitOfMeasureId',
    'baseUnitOfMeasureCode',
    'generalProductPostingGroupId',
    'generalProductPostingGroupCode',
    'inventoryPostingGroupId',
    'inventoryPostingGroupCode',
    'lastModifiedDateTime',
  ],
  currencies: ['id', 'code', 'displayName', 'symbol', 'amountDecimalPlaces', 'amountRoundingPrecision', 'lastModifiedDateTime'],
  unitsOfMeasure: ['id', 'code', 'displayName', 'internationalStandardCode', 'symbol', 'lastModifiedDateTime'],
  paymentTerms: ['id', 'code', 'displayName', 'dueDateCalculation', 'discountDateCalculation', 'discountPercent', 'lastModifiedDateTime'],
  shipmentMethods: ['id', 'code', 'displayName', 'lastModifiedDateTime'],
  salespeoplePurchasers: ['id', 'code', 'displayName', 'email', 'email2', 'phoneNo', 'jobTitle', 'privacyBlocked', 'blocked'],
  salesOrders: [
    'id',
    'number',
    'externalDocumentNumber',
    'orderDate',
    'postingDate',
    'customerId',
    'customerNumber',
    'customerName',
    'billToName',
    'billToCustomerId',
    'billToCustomerNumber',
    'shipToName',
    'shipToContact',
    'billToAddressLine1',
    'billToAddressLine2',
    'billToCity',
    'billToCountry',
    'billToState',
    'billToPostCode',
    'shipToAddressLine1',
    'shipToAddressLine2',
    'shipToCity',
    'shipToCountry',
    'shipToState',
    'shipToPostCode',
    'currencyId',
    'currencyCode',
    'paymentTermsId',
    'shipmentMethodId',
    'salesperson',
    'requestedDeliveryDate',
    'discountAmount',
    'totalAmountExcludingTax',
    'totalTaxAmount',
    'totalAmountIncludingTax',
    'fullyShipped',
    'status',
    'lastModifiedDateTime',
  ],
  salesOrderLines: [
    'id',
    'documentId',
    'sequence',
    'itemId',
    'accountId',
    'lineType',
    'lineObjectNumber',
    'description',
    'unitOfMeasureId',
    'unitOfMeasureCode',
    'quantity',
    'unitPrice',
    'discountAmount',
    'discountPercent',
    'amountExcludingTax',
    'taxCode',
    'taxPercent',
    'totalTaxAmount',
    'amountIncludingTax',
    'netAmount',
    'shipmentDate',
    'shippedQuantity',
    'invoicedQuantity',
  ],
  salesInvoices: [
    'id',
    'number',
    'externalDocumentNumber',
    'invoiceDate',
    'postingDate',
    'dueDate',
    'customerId',
    'customerNumber',
    'customerName',
    'billToName',
    'shipToName',
    'billToAddressLine1',
    'billToAddressLine2',
    'billToCity',
    'billToCountry',
    'billToState',
    'billToPostCode',
    'shipToAddressLine1',
    'shipToAddressLine2',
    'shipToCity',
    'shipToCountry',
    'shipToState',
    'shipToPostCode',
    'currencyId',
    'currencyCode',
    'orderId',
    'orderNumber',
    'paymentTermsId',
    'shipmentMethodId',
    'salesperson',
    'discountAmount',
    'totalAmountExcludingTax',
    'totalTaxAmount',
    'totalAmountIncludingTax',
    'status',
    'lastModifiedDateTime',
  ],
};

describe('BC field names (API v2.0 / custom API)', () => {
  const everything = [
    ...defaultMappings({ ...PERSON_FULL, salesOrderIntegration: 'bidirectional', unitGroupMapping: true, extendedPricing: true }),
    ...defaultMappings(PERSON_FULL),
  ];

  it('customer uses the API v2.0 names from the brief', () => {
    const customer = find(everything, 'CUSTOMER');
    const byAl = Object.fromEntries(customer.fields.filter((f) => f.alField).map((f) => [f.alField, f.bcField]));
    expect(byAl).toMatchObject({
      Name: 'displayName',
      Address: 'addressLine1',
      'Phone No.': 'phoneNumber',
      'Salesperson Code': 'salespersonCode',
      'Currency Code': 'currencyCode',
      'Payment Terms Code': 'paymentTermsId',
    });
  });

  it('every non-extension field and every table-filter field on an apiV2 mapping is a documented API v2.0 property', () => {
    const wrong: string[] = [];
    for (const m of everything.filter((x) => x.bc.kind === 'apiV2')) {
      const known = API_V2_FIELDS[m.bc.entitySet];
      if (!known) {
        wrong.push(`${m.name}: no API v2.0 field list for ${m.bc.entitySet}`);
        continue;
      }
      for (const f of m.fields) {
        if (f.bcField !== null && !f.bcExtension && !known.includes(f.bcField)) wrong.push(`${m.name}: ${f.bcField}`);
      }
      for (const [, prop] of m.tableFilter.matchAll(/([A-Za-z_][A-Za-z0-9_]*) (?:eq|ne|gt|ge|lt|le) /g)) {
        if (prop && !known.includes(prop)) wrong.push(`${m.name}: filter ${prop}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('custom API mappings are the tables whose API v2.0 page is missing or lacks what the mapping needs', () => {
    const custom = [...new Set(everything.filter((m) => m.bc.kind === 'customApi').map((m) => `${m.name}=${m.bc.entitySet}`))].sort();
    expect(custom).toEqual(
      [
        'CUSTPRCGRP-PRICE=customerPriceGroups',
        'ITEM UOM=itemUnitsOfMeasure',
        'OPPORTUNITY=opportunities',
        'PLHEADER-PRICE=priceListHeaders',
        'PLLINE-PRODPRICE=priceListLines',
        'POSTEDSALESLINE-INV=postedSalesInvoiceLines',
        'RESOURCE UOM=resourceUnitsOfMeasure',
        'RESOURCE-PRODUCT=resources',
        // v2.0 salespeoplePurchasers only exists from BC 26; v2.0 salesOrderLines has no webhooks.
        'SALESPEOPLE=salespeoplePurchasers',
        'SOLINE-ORDERDETAIL=salesOrderLines',
        'SALESPRC-PRODPRICE=salesPrices',
        'SHIPPING AGENT=shippingAgents',
        'UNIT GROUP=unitGroups',
      ].sort(),
    );
  });
});
