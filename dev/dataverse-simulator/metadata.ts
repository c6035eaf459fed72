/**
 * Table definitions of the simulated Dataverse org: entity sets, keys, primary names, column types, option sets and
 * navigation properties (api-contracts.md B.2; column names from bc-integration-reference.md section 2).
 *
 * Rows are stored in Web API wire form (`name`, `_primarycontactid_value`), so a column's "wire name" is what
 * $select/$filter use and its logical name is what metadata, bindings and webhook payloads use.
 */

export type AttributeType =
  | 'String'
  | 'Memo'
  | 'Integer'
  | 'BigInt'
  | 'Decimal'
  | 'Double'
  | 'Money'
  | 'Boolean'
  | 'DateTime'
  | 'Uniqueidentifier'
  | 'Lookup'
  | 'Customer'
  | 'Owner'
  | 'Picklist'
  | 'State'
  | 'Status'
  | 'EntityName';

export interface OptionMeta {
  value: number;
  label: string;
  /** Status options: the statecode they belong to. */
  state?: number;
  /** State options: the statuscode a row gets when only statecode is set. */
  defaultStatus?: number;
  /** State options: invariant name ("Active", "Submitted"). */
  invariantName?: string;
}

export interface AttributeMeta {
  logicalName: string;
  type: AttributeType;
  maxLength?: number;
  /** Lookup / Customer / Owner targets (logical names). */
  targets?: string[];
  options?: OptionMeta[];
  /** Global option set name, when the column uses one (shared by account/salesorder/quote/invoice). */
  optionSetName?: string;
  /** Set by the platform (createdon, versionnumber, fullname…); a client may not write it. */
  readOnly?: boolean;
  /** DateTime columns with DateOnly behaviour serialise as `YYYY-MM-DD`. */
  dateOnly?: boolean;
}

export interface CollectionNavMeta {
  /** Collection-valued navigation property, e.g. `order_details`. */
  name: string;
  /** Logical name of the related (child) table. */
  target: string;
  /** Lookup column on the child that points back at the parent. */
  referencingAttribute: string;
}

export interface EntityMeta {
  logicalName: string;
  entitySetName: string;
  primaryId: string;
  primaryName: string;
  objectTypeCode: number;
  ownership: 'UserOwned' | 'OrganizationOwned' | 'BusinessOwned' | 'None';
  attributes: Map<string, AttributeMeta>;
  collections: CollectionNavMeta[];
  alternateKeys: string[][];
  /** Platform tables (webhook registrations, system jobs) never trigger webhook steps. */
  system: boolean;
  /** Header tables whose rows are read-only unless statecode is 0 (salesorder, quote, invoice). */
  editableOnlyWhenActive?: boolean;
  /** Detail tables whose parent must be editable (salesorderdetail -> salesorderid). */
  parentLookup?: string;
  /** Wire name -> attribute, filled by defineEntity. */
  wire: Map<string, AttributeMeta>;
  /** Single-valued navigation property -> lookup attribute + target. */
  navs: Map<string, { attribute: AttributeMeta; target?: string }>;
}

/** `_primarycontactid_value` for lookups, the logical name otherwise. */
export function wireName(a: AttributeMeta): string {
  return a.type === 'Lookup' || a.type === 'Customer' || a.type === 'Owner' ? `_${a.logicalName}_value` : a.logicalName;
}

export function isLookup(a: AttributeMeta): boolean {
  return a.type === 'Lookup' || a.type === 'Customer' || a.type === 'Owner';
}

const str = (logicalName: string, maxLength = 100): AttributeMeta => ({ logicalName, type: 'String', maxLength });
const memo = (logicalName: string, maxLength = 2000): AttributeMeta => ({ logicalName, type: 'Memo', maxLength });
const int = (logicalName: string): AttributeMeta => ({ logicalName, type: 'Integer' });
const dec = (logicalName: string): AttributeMeta => ({ logicalName, type: 'Decimal' });
const dbl = (logicalName: string): AttributeMeta => ({ logicalName, type: 'Double' });
const money = (logicalName: string): AttributeMeta => ({ logicalName, type: 'Money' });
const bool = (logicalName: string): AttributeMeta => ({ logicalName, type: 'Boolean' });
const date = (logicalName: string, dateOnly = false): AttributeMeta => ({ logicalName, type: 'DateTime', dateOnly });
const guid = (logicalName: string): AttributeMeta => ({ logicalName, type: 'Uniqueidentifier' });
const lookup = (logicalName: string, ...targets: string[]): AttributeMeta => ({ logicalName, type: 'Lookup', targets });
const customer = (logicalName: string): AttributeMeta => ({
  logicalName,
  type: 'Customer',
  targets: ['account', 'contact'],
});
const picklist = (logicalName: string, labels: Record<number, string>, optionSetName?: string): AttributeMeta => ({
  logicalName,
  type: 'Picklist',
  options: Object.entries(labels).map(([v, label]) => ({ value: Number(v), label })),
  ...(optionSetName ? { optionSetName } : {}),
});
const ro = (a: AttributeMeta): AttributeMeta => ({ ...a, readOnly: true });

/** Out-of-the-box option values (bc-integration-reference.md 2.6). */
export const PAYMENT_TERMS = { 1: 'Net 30', 2: '2% 10; Net 30', 3: 'Net 45', 4: 'Net 60' };
export const FREIGHT_TERMS = { 1: 'FOB', 2: 'No Charge' };
export const SHIPPING_METHODS = {
  1: 'Airborne',
  2: 'DHL',
  3: 'FedEx',
  4: 'UPS',
  5: 'Postal Mail',
  6: 'Full Load',
  7: 'Will Call',
};

type StateDef = [state: number, invariant: string, label: string, statuses: Record<number, string>];

function stateStatus(states: StateDef[]): AttributeMeta[] {
  const stateOptions: OptionMeta[] = [];
  const statusOptions: OptionMeta[] = [];
  for (const [state, invariantName, label, statuses] of states) {
    const first = Object.keys(statuses)[0];
    stateOptions.push({ value: state, label, invariantName, defaultStatus: Number(first) });
    for (const [v, l] of Object.entries(statuses)) statusOptions.push({ value: Number(v), label: l, state });
  }
  return [
    { logicalName: 'statecode', type: 'State', options: stateOptions },
    { logicalName: 'statuscode', type: 'Status', options: statusOptions },
  ];
}

const ACTIVE_INACTIVE: StateDef[] = [
  [0, 'Active', 'Active', { 1: 'Active' }],
  [1, 'Inactive', 'Inactive', { 2: 'Inactive' }],
];

function audit(ownership: EntityMeta['ownership']): AttributeMeta[] {
  const cols: AttributeMeta[] = [
    ro(date('createdon')),
    ro(date('modifiedon')),
    ro(lookup('createdby', 'systemuser')),
    ro(lookup('modifiedby', 'systemuser')),
    ro(lookup('createdonbehalfby', 'systemuser')),
    ro(lookup('modifiedonbehalfby', 'systemuser')),
    ro({ logicalName: 'versionnumber', type: 'BigInt' }),
  ];
  if (ownership === 'UserOwned') {
    cols.push({ logicalName: 'ownerid', type: 'Owner', targets: ['systemuser', 'team'] });
    cols.push(ro(lookup('owningbusinessunit', 'businessunit')));
    cols.push(ro(lookup('owninguser', 'systemuser')));
    cols.push(ro(lookup('owningteam', 'team')));
  }
  return cols;
}

const address = (prefix: string): AttributeMeta[] => [
  str(`${prefix}_name`, 200),
  str(`${prefix}_line1`, 250),
  str(`${prefix}_line2`, 250),
  str(`${prefix}_line3`, 250),
  str(`${prefix}_city`, 80),
  str(`${prefix}_stateorprovince`, 50),
  str(`${prefix}_postalcode`, 20),
  str(`${prefix}_country`, 80),
  str(`${prefix}_telephone1`, 50),
];

const currency = (): AttributeMeta[] => [lookup('transactioncurrencyid', 'transactioncurrency'), ro(dec('exchangerate'))];

interface EntityDef {
  logicalName: string;
  entitySetName: string;
  primaryId: string;
  primaryName: string;
  objectTypeCode: number;
  ownership: EntityMeta['ownership'];
  attributes: AttributeMeta[];
  collections?: CollectionNavMeta[];
  alternateKeys?: string[][];
  system?: boolean;
  editableOnlyWhenActive?: boolean;
  parentLookup?: string;
}

function defineEntity(def: EntityDef): EntityMeta {
  const attributes = new Map<string, AttributeMeta>();
  attributes.set(def.primaryId, { logicalName: def.primaryId, type: 'Uniqueidentifier' });
  // Cloned so InsertOptionValue on one simulator instance never leaks into another.
  for (const a of def.attributes)
    attributes.set(a.logicalName, { ...a, ...(a.options ? { options: a.options.map((o) => ({ ...o })) } : {}) });
  const meta: EntityMeta = {
    logicalName: def.logicalName,
    entitySetName: def.entitySetName,
    primaryId: def.primaryId,
    primaryName: def.primaryName,
    objectTypeCode: def.objectTypeCode,
    ownership: def.ownership,
    attributes,
    collections: def.collections ?? [],
    alternateKeys: def.alternateKeys ?? [],
    system: def.system ?? false,
    ...(def.editableOnlyWhenActive ? { editableOnlyWhenActive: true } : {}),
    ...(def.parentLookup ? { parentLookup: def.parentLookup } : {}),
    wire: new Map(),
    navs: new Map(),
  };
  for (const a of attributes.values()) {
    meta.wire.set(wireName(a), a);
    if (!isLookup(a)) continue;
    const targets = a.targets ?? [];
    // Polymorphic lookups get one navigation property per target (`customerid_account`); owner is the exception.
    if (a.type === 'Owner' || targets.length === 1) meta.navs.set(a.logicalName, { attribute: a });
    else for (const t of targets) meta.navs.set(`${a.logicalName}_${t}`, { attribute: a, target: t });
  }
  return meta;
}

const HEADER_PRICING = (): AttributeMeta[] => [
  money('totalamount'),
  money('totalamountlessfreight'),
  money('totallineitemamount'),
  money('totaldiscountamount'),
  money('totaltax'),
  money('discountamount'),
  dec('discountpercentage'),
  money('freightamount'),
  picklist('paymenttermscode', PAYMENT_TERMS, 'paymentterms'),
  picklist('freighttermscode', FREIGHT_TERMS, 'freightterms'),
  picklist('shippingmethodcode', SHIPPING_METHODS, 'shippingmethod'),
  lookup('pricelevelid', 'pricelevel'),
  customer('customerid'),
  memo('description', 2000),
  ...address('billto'),
  ...address('shipto'),
  ...currency(),
];

const DETAIL_PRICING = (): AttributeMeta[] => [
  lookup('productid', 'product'),
  lookup('uomid', 'uom'),
  str('productdescription', 500),
  memo('description', 2000),
  dec('quantity'),
  money('priceperunit'),
  bool('ispriceoverridden'),
  bool('isproductoverridden'),
  money('baseamount'),
  money('extendedamount'),
  money('manualdiscountamount'),
  money('volumediscountamount'),
  money('tax'),
  int('lineitemnumber'),
  int('sequencenumber'),
  picklist('producttypecode', {
    1: 'Product',
    2: 'Bundle',
    3: 'Required Bundle Product',
    4: 'Optional Bundle Product',
    5: 'Project-based Service',
  }),
  date('requestdeliveryby', true),
  ...currency(),
];

const DEFS: EntityDef[] = [
  {
    logicalName: 'account',
    entitySetName: 'accounts',
    primaryId: 'accountid',
    primaryName: 'name',
    objectTypeCode: 1,
    ownership: 'UserOwned',
    alternateKeys: [['accountnumber']],
    collections: [{ name: 'contact_customer_accounts', target: 'contact', referencingAttribute: 'parentcustomerid' }],
    attributes: [
      str('name', 160),
      str('accountnumber', 20),
      picklist('accountcategorycode', { 1: 'Preferred Customer', 2: 'Standard' }),
      picklist('customertypecode', {
        1: 'Competitor',
        2: 'Consultant',
        3: 'Customer',
        4: 'Investor',
        5: 'Partner',
        6: 'Influencer',
        7: 'Press',
        8: 'Prospect',
        9: 'Reseller',
        10: 'Supplier',
        11: 'Vendor',
        12: 'Other',
      }),
      picklist('paymenttermscode', PAYMENT_TERMS, 'paymentterms'),
      picklist('address1_freighttermscode', FREIGHT_TERMS, 'freightterms'),
      picklist('address1_shippingmethodcode', SHIPPING_METHODS, 'shippingmethod'),
      ...address('address1'),
      str('address1_primarycontactname', 100),
      dbl('address1_latitude'),
      dbl('address1_longitude'),
      str('telephone1', 50),
      str('telephone2', 50),
      str('fax', 50),
      str('emailaddress1', 100),
      str('websiteurl', 200),
      money('creditlimit'),
      bool('creditonhold'),
      money('revenue'),
      int('numberofemployees'),
      memo('description', 2000),
      lookup('primarycontactid', 'contact'),
      lookup('parentaccountid', 'account'),
      ...currency(),
      ...stateStatus(ACTIVE_INACTIVE),
      ...audit('UserOwned'),
    ],
  },
  {
    logicalName: 'contact',
    entitySetName: 'contacts',
    primaryId: 'contactid',
    primaryName: 'fullname',
    objectTypeCode: 2,
    ownership: 'UserOwned',
    attributes: [
      str('firstname', 50),
      str('middlename', 50),
      str('lastname', 50),
      ro(str('fullname', 160)),
      ro(str('yomifullname', 450)),
      str('salutation', 100),
      str('jobtitle', 100),
      str('emailaddress1', 100),
      str('telephone1', 50),
      str('telephone2', 50),
      str('mobilephone', 50),
      str('fax', 50),
      str('pager', 50),
      str('websiteurl', 200),
      ...address('address1'),
      memo('description', 2000),
      customer('parentcustomerid'),
      ...currency(),
      ...stateStatus(ACTIVE_INACTIVE),
      ...audit('UserOwned'),
    ],
  },
  {
    logicalName: 'systemuser',
    entitySetName: 'systemusers',
    primaryId: 'systemuserid',
    primaryName: 'fullname',
    objectTypeCode: 8,
    ownership: 'BusinessOwned',
    attributes: [
      str('firstname', 256),
      str('lastname', 256),
      ro(str('fullname', 200)),
      str('internalemailaddress', 100),
      str('personalemailaddress', 100),
      str('domainname', 1024),
      str('mobilephone', 64),
      str('jobtitle', 100),
      bool('isdisabled'),
      bool('islicensed'),
      bool('isintegrationuser'),
      picklist('accessmode', {
        0: 'Read-Write',
        1: 'Administrative',
        2: 'Read',
        3: 'Support User',
        4: 'Non-interactive',
        5: 'Delegated Admin',
      }),
      guid('applicationid'),
      guid('azureactivedirectoryobjectid'),
      lookup('businessunitid', 'businessunit'),
      ...audit('BusinessOwned'),
    ],
  },
  {
    logicalName: 'team',
    entitySetName: 'teams',
    primaryId: 'teamid',
    primaryName: 'name',
    objectTypeCode: 9,
    ownership: 'BusinessOwned',
    attributes: [
      str('name', 160),
      picklist('teamtype', { 0: 'Owner', 1: 'Access', 2: 'Security Group', 3: 'Office Group' }),
      lookup('businessunitid', 'businessunit'),
      lookup('administratorid', 'systemuser'),
      memo('description', 2000),
      ...audit('BusinessOwned'),
    ],
  },
  {
    logicalName: 'businessunit',
    entitySetName: 'businessunits',
    primaryId: 'businessunitid',
    primaryName: 'name',
    objectTypeCode: 10,
    ownership: 'BusinessOwned',
    attributes: [str('name', 160), ...audit('BusinessOwned')],
  },
  {
    logicalName: 'transactioncurrency',
    entitySetName: 'transactioncurrencies',
    primaryId: 'transactioncurrencyid',
    primaryName: 'currencyname',
    objectTypeCode: 9105,
    ownership: 'OrganizationOwned',
    alternateKeys: [['isocurrencycode']],
    attributes: [
      str('currencyname', 100),
      str('isocurrencycode', 5),
      str('currencysymbol', 10),
      dec('exchangerate'),
      int('currencyprecision'),
      ...stateStatus(ACTIVE_INACTIVE),
      ...audit('OrganizationOwned'),
    ],
  },
  {
    logicalName: 'uomschedule',
    entitySetName: 'uomschedules',
    primaryId: 'uomscheduleid',
    primaryName: 'name',
    objectTypeCode: 1056,
    ownership: 'OrganizationOwned',
    collections: [{ name: 'UoMSchedule_UoMs', target: 'uom', referencingAttribute: 'uomscheduleid' }],
    attributes: [
      str('name', 200),
      str('baseuomname', 100),
      memo('description', 2000),
      ...stateStatus(ACTIVE_INACTIVE),
      ...audit('OrganizationOwned'),
    ],
  },
  {
    logicalName: 'uom',
    entitySetName: 'uoms',
    primaryId: 'uomid',
    primaryName: 'name',
    objectTypeCode: 1055,
    ownership: 'OrganizationOwned',
    attributes: [
      str('name', 100),
      lookup('uomscheduleid', 'uomschedule'),
      lookup('baseuom', 'uom'),
      dec('quantity'),
      ro(bool('isschedulebaseuom')),
      ...audit('OrganizationOwned'),
    ],
  },
  {
    logicalName: 'pricelevel',
    entitySetName: 'pricelevels',
    primaryId: 'pricelevelid',
    primaryName: 'name',
    objectTypeCode: 1022,
    ownership: 'OrganizationOwned',
    collections: [{ name: 'price_level_product_price_levels', target: 'productpricelevel', referencingAttribute: 'pricelevelid' }],
    attributes: [
      str('name', 100),
      memo('description', 200),
      date('begindate', true),
      date('enddate', true),
      ...currency(),
      ...stateStatus(ACTIVE_INACTIVE),
      ...audit('OrganizationOwned'),
    ],
  },
  {
    logicalName: 'productpricelevel',
    entitySetName: 'productpricelevels',
    primaryId: 'productpricelevelid',
    primaryName: 'productidname',
    objectTypeCode: 1026,
    ownership: 'OrganizationOwned',
    attributes: [
      ro(str('productidname', 100)),
      lookup('pricelevelid', 'pricelevel'),
      lookup('productid', 'product'),
      lookup('uomid', 'uom'),
      lookup('uomscheduleid', 'uomschedule'),
      str('productnumber', 100),
      money('amount'),
      picklist('pricingmethodcode', {
        1: 'Currency Amount',
        2: 'Percent of List',
        3: 'Percent Markup - Current Cost',
        4: 'Percent Margin - Current Cost',
        5: 'Percent Markup - Standard Cost',
        6: 'Percent Margin - Standard Cost',
      }),
      ...currency(),
      ...audit('OrganizationOwned'),
    ],
  },
  {
    logicalName: 'product',
    entitySetName: 'products',
    primaryId: 'productid',
    primaryName: 'name',
    objectTypeCode: 1024,
    ownership: 'OrganizationOwned',
    alternateKeys: [['productnumber']],
    attributes: [
      str('name', 100),
      str('productnumber', 100),
      memo('description', 2000),
      money('price'),
      money('standardcost'),
      money('currentcost'),
      dec('stockvolume'),
      dec('stockweight'),
      dec('quantityonhand'),
      int('quantitydecimal'),
      str('vendorid', 100),
      str('vendorname', 100),
      str('vendorpartnumber', 100),
      picklist('producttypecode', { 1: 'Sales Inventory', 2: 'Miscellaneous Charges', 3: 'Services', 4: 'Flat Fees' }),
      picklist('productstructure', { 1: 'Product', 2: 'Product Family', 3: 'Product Bundle' }),
      lookup('defaultuomscheduleid', 'uomschedule'),
      lookup('defaultuomid', 'uom'),
      lookup('pricelevelid', 'pricelevel'),
      ...currency(),
      ...stateStatus([
        [0, 'Active', 'Active', { 1: 'Active' }],
        [1, 'Retired', 'Retired', { 2: 'Retired' }],
        [2, 'Draft', 'Draft', { 0: 'Draft' }],
        [3, 'UnderRevision', 'Under Revision', { 3: 'Under Revision' }],
      ]),
      ...audit('OrganizationOwned'),
    ],
  },
  {
    logicalName: 'opportunity',
    entitySetName: 'opportunities',
    primaryId: 'opportunityid',
    primaryName: 'name',
    objectTypeCode: 3,
    ownership: 'UserOwned',
    attributes: [
      str('name', 300),
      customer('customerid'),
      lookup('parentaccountid', 'account'),
      lookup('parentcontactid', 'contact'),
      lookup('pricelevelid', 'pricelevel'),
      money('estimatedvalue'),
      date('estimatedclosedate', true),
      date('actualclosedate', true),
      int('closeprobability'),
      money('actualvalue'),
      memo('description', 2000),
      ...currency(),
      ...stateStatus([
        [0, 'Open', 'Open', { 1: 'In Progress', 2: 'On Hold' }],
        [1, 'Won', 'Won', { 3: 'Won' }],
        [2, 'Lost', 'Lost', { 4: 'Canceled', 5: 'Out-Sold' }],
      ]),
      ...audit('UserOwned'),
    ],
  },
  {
    logicalName: 'quote',
    entitySetName: 'quotes',
    primaryId: 'quoteid',
    primaryName: 'name',
    objectTypeCode: 1084,
    ownership: 'UserOwned',
    editableOnlyWhenActive: true,
    attributes: [
      str('name', 300),
      str('quotenumber', 100),
      lookup('opportunityid', 'opportunity'),
      date('effectivefrom', true),
      date('effectiveto', true),
      ...HEADER_PRICING(),
      ...stateStatus([
        [0, 'Draft', 'Draft', { 1: 'In Progress' }],
        [1, 'Active', 'Active', { 2: 'In Progress', 3: 'Open' }],
        [2, 'Won', 'Won', { 4: 'Won' }],
        [3, 'Closed', 'Closed', { 5: 'Lost', 6: 'Canceled', 7: 'Revised' }],
      ]),
      ...audit('UserOwned'),
    ],
  },
  {
    logicalName: 'salesorder',
    entitySetName: 'salesorders',
    primaryId: 'salesorderid',
    primaryName: 'name',
    objectTypeCode: 1088,
    ownership: 'UserOwned',
    editableOnlyWhenActive: true,
    alternateKeys: [['ordernumber']],
    collections: [{ name: 'order_details', target: 'salesorderdetail', referencingAttribute: 'salesorderid' }],
    attributes: [
      str('name', 300),
      str('ordernumber', 100),
      str('bcbi_businesscentralordernumber', 20),
      lookup('opportunityid', 'opportunity'),
      lookup('quoteid', 'quote'),
      date('requestdeliveryby', true),
      date('datefulfilled', true),
      date('lastbackofficesubmit', true),
      ...HEADER_PRICING(),
      ...stateStatus([
        [0, 'Active', 'Active', { 1: 'New', 2: 'Pending' }],
        [1, 'Submitted', 'Submitted', { 3: 'In Progress' }],
        [2, 'Canceled', 'Canceled', { 4: 'No Money' }],
        [3, 'Fulfilled', 'Fulfilled', { 100001: 'Complete', 100002: 'Partial' }],
        [4, 'Invoiced', 'Invoiced', { 100003: 'Invoiced' }],
      ]),
      ...audit('UserOwned'),
    ],
  },
  {
    logicalName: 'salesorderdetail',
    entitySetName: 'salesorderdetails',
    primaryId: 'salesorderdetailid',
    primaryName: 'salesorderdetailname',
    objectTypeCode: 1089,
    ownership: 'UserOwned',
    parentLookup: 'salesorderid',
    attributes: [
      str('salesorderdetailname', 500),
      lookup('salesorderid', 'salesorder'),
      dec('quantityshipped'),
      dec('quantitybackordered'),
      int('bcbi_businesscentrallinenumber'),
      ...DETAIL_PRICING(),
      ...audit('UserOwned'),
    ],
  },
  {
    logicalName: 'invoice',
    entitySetName: 'invoices',
    primaryId: 'invoiceid',
    primaryName: 'name',
    objectTypeCode: 1090,
    ownership: 'UserOwned',
    editableOnlyWhenActive: true,
    alternateKeys: [['invoicenumber']],
    collections: [{ name: 'invoice_details', target: 'invoicedetail', referencingAttribute: 'invoiceid' }],
    attributes: [
      str('name', 300),
      str('invoicenumber', 100),
      lookup('salesorderid', 'salesorder'),
      lookup('opportunityid', 'opportunity'),
      date('duedate', true),
      date('datedelivered', true),
      ...HEADER_PRICING(),
      ...stateStatus([
        [
          0,
          'Active',
          'Active',
          { 1: 'New', 2: 'Partially Shipped', 4: 'Billed', 5: 'Booked (applies to services)', 6: 'Installed (applies to services)' },
        ],
        [1, 'Closed', 'Closed (deprecated)', { 3: 'Canceled (deprecated)', 7: 'Paid (deprecated)' }],
        [2, 'Paid', 'Paid', { 100001: 'Complete', 100002: 'Partial' }],
        [3, 'Canceled', 'Canceled', { 100003: 'Canceled' }],
      ]),
      ...audit('UserOwned'),
    ],
  },
  {
    logicalName: 'invoicedetail',
    entitySetName: 'invoicedetails',
    primaryId: 'invoicedetailid',
    primaryName: 'invoicedetailname',
    objectTypeCode: 1091,
    ownership: 'UserOwned',
    parentLookup: 'invoiceid',
    attributes: [
      str('invoicedetailname', 500),
      lookup('invoiceid', 'invoice'),
      lookup('salesorderdetailid', 'salesorderdetail'),
      dec('quantityshipped'),
      ...DETAIL_PRICING(),
      ...audit('UserOwned'),
    ],
  },
  // Platform tables used to register webhooks (api-contracts.md A.1b) and to record failed deliveries (A.1).
  {
    logicalName: 'serviceendpoint',
    entitySetName: 'serviceendpoints',
    primaryId: 'serviceendpointid',
    primaryName: 'name',
    objectTypeCode: 4618,
    ownership: 'OrganizationOwned',
    system: true,
    attributes: [
      str('name', 256),
      memo('description', 2000),
      str('url', 2000),
      picklist('contract', {
        1: 'OneWay',
        2: 'Queue',
        3: 'Rest',
        4: 'TwoWay',
        5: 'Topic',
        6: 'Queue (Persistent)',
        7: 'Event Hub',
        8: 'Webhook',
        9: 'Event Grid',
      }),
      picklist('authtype', {
        1: 'ACS',
        2: 'SAS Key',
        3: 'SAS Token',
        4: 'Webhook Key',
        5: 'Http Header',
        6: 'Http Query String',
        7: 'Connection String',
        8: 'Access Key',
      }),
      memo('authvalue', 4000),
      picklist('messageformat', { 1: 'Binary XML', 2: 'Json', 3: 'Text XML' }),
      str('namespaceaddress', 255),
      str('path', 160),
      picklist('userclaim', { 1: 'None', 2: 'UserId', 3: 'UserInfo' }),
      str('saskeyname', 256),
      str('saskey', 256),
      ...audit('OrganizationOwned'),
    ],
  },
  {
    logicalName: 'sdkmessage',
    entitySetName: 'sdkmessages',
    primaryId: 'sdkmessageid',
    primaryName: 'name',
    objectTypeCode: 4606,
    ownership: 'OrganizationOwned',
    system: true,
    attributes: [str('name', 256), ...audit('OrganizationOwned')],
  },
  {
    logicalName: 'sdkmessagefilter',
    entitySetName: 'sdkmessagefilters',
    primaryId: 'sdkmessagefilterid',
    primaryName: 'name',
    objectTypeCode: 4607,
    ownership: 'OrganizationOwned',
    system: true,
    attributes: [
      str('name', 256),
      { logicalName: 'primaryobjecttypecode', type: 'EntityName' },
      { logicalName: 'secondaryobjecttypecode', type: 'EntityName' },
      lookup('sdkmessageid', 'sdkmessage'),
      bool('iscustomprocessingstepallowed'),
      ...audit('OrganizationOwned'),
    ],
  },
  {
    logicalName: 'sdkmessageprocessingstep',
    entitySetName: 'sdkmessageprocessingsteps',
    primaryId: 'sdkmessageprocessingstepid',
    primaryName: 'name',
    objectTypeCode: 4608,
    ownership: 'OrganizationOwned',
    system: true,
    collections: [
      {
        name: 'sdkmessageprocessingstepid_sdkmessageprocessingstepimage',
        target: 'sdkmessageprocessingstepimage',
        referencingAttribute: 'sdkmessageprocessingstepid',
      },
    ],
    attributes: [
      str('name', 256),
      memo('description', 256),
      picklist('mode', { 0: 'Synchronous', 1: 'Asynchronous' }),
      picklist('stage', {
        5: 'Initial Pre-operation (For internal use only)',
        10: 'Pre-validation',
        15: 'Internal Pre-operation Before External Plugins (For internal use only)',
        20: 'Pre-operation',
        25: 'Internal Pre-operation After External Plugins (For internal use only)',
        30: 'Main Operation (For internal use only)',
        35: 'Internal Post-operation Before External Plugins (For internal use only)',
        40: 'Post-operation',
        45: 'Internal Post-operation After External Plugins (For internal use only)',
        50: 'Post-operation (Deprecated)',
        55: 'Final Post-operation (For internal use only)',
      }),
      int('rank'),
      picklist('supporteddeployment', { 0: 'Server Only', 1: 'Microsoft Dynamics 365 Client for Outlook Only', 2: 'Both' }),
      bool('asyncautodelete'),
      str('filteringattributes', 100000),
      memo('configuration', 1073741823),
      { logicalName: 'eventhandler', type: 'Lookup', targets: ['serviceendpoint', 'plugintype'] },
      lookup('sdkmessageid', 'sdkmessage'),
      lookup('sdkmessagefilterid', 'sdkmessagefilter'),
      lookup('impersonatinguserid', 'systemuser'),
      ...stateStatus([
        [0, 'Enabled', 'Enabled', { 1: 'Enabled' }],
        [1, 'Disabled', 'Disabled', { 2: 'Disabled' }],
      ]),
      ...audit('OrganizationOwned'),
    ],
  },
  {
    logicalName: 'sdkmessageprocessingstepimage',
    entitySetName: 'sdkmessageprocessingstepimages',
    primaryId: 'sdkmessageprocessingstepimageid',
    primaryName: 'name',
    objectTypeCode: 4615,
    ownership: 'OrganizationOwned',
    system: true,
    attributes: [
      str('name', 256),
      str('entityalias', 256),
      picklist('imagetype', { 0: 'PreImage', 1: 'PostImage', 2: 'Both' }),
      str('messagepropertyname', 256),
      str('attributes', 100000),
      lookup('sdkmessageprocessingstepid', 'sdkmessageprocessingstep'),
      ...audit('OrganizationOwned'),
    ],
  },
  {
    logicalName: 'asyncoperation',
    entitySetName: 'asyncoperations',
    primaryId: 'asyncoperationid',
    primaryName: 'name',
    objectTypeCode: 4700,
    ownership: 'UserOwned',
    system: true,
    attributes: [
      str('name', 256),
      picklist('operationtype', { 1: 'System Event' }),
      lookup('owningextensionid', 'sdkmessageprocessingstep'),
      memo('message', 1073741823),
      memo('friendlymessage', 1073741823),
      int('errorcode'),
      str('primaryentitytype', 64),
      guid('correlationid'),
      date('completedon'),
      int('retrycount'),
      ...stateStatus([
        [0, 'Ready', 'Ready', { 0: 'Waiting For Resources' }],
        [1, 'Suspended', 'Suspended', { 10: 'Waiting' }],
        [2, 'Locked', 'Locked', { 20: 'In Progress', 21: 'Pausing', 22: 'Canceling' }],
        [3, 'Completed', 'Completed', { 30: 'Succeeded', 31: 'Failed', 32: 'Canceled' }],
      ]),
      ...audit('UserOwned'),
    ],
  },
];

/** All simulated tables; immutable except for options added at run time through InsertOptionValue. */
export class Catalog {
  readonly byLogicalName = new Map<string, EntityMeta>();
  readonly bySetName = new Map<string, EntityMeta>();

  constructor() {
    for (const def of DEFS) {
      const meta = defineEntity(def);
      this.byLogicalName.set(meta.logicalName, meta);
      this.bySetName.set(meta.entitySetName, meta);
    }
  }

  entity(logicalName: string): EntityMeta {
    const meta = this.byLogicalName.get(logicalName);
    if (!meta) throw new Error(`No simulated table '${logicalName}'.`);
    return meta;
  }
}
