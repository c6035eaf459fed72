import { queueNameFor } from './queue';
import {
  type ChangeCapture,
  type CouplingRules,
  type Direction,
  type FieldMapping,
  type FieldMappingInput,
  FieldMappingSchema,
  type OwnershipModel,
  type TableMapping,
  type TableMappingInput,
  TableMappingSchema,
  type Transformation,
} from './schema';

/**
 * BC's default Integration Table / Field Mappings (codeunits 7204 "CDS Setup Defaults" and 5334 "CRM Setup
 * Defaults"), transcribed from bc-integration-reference.md sections 1.3 and 2. Longer than 500 lines on purpose: it is
 * a catalogue (one entry per default mapping, one line per field), read side by side with BC's tables. BC fields are the API v2.0
 * property names where the standard page has the field; otherwise camelCase of the AL name on our companion
 * custom API page (`bcExtension: true`).
 */

/** Connection switches that decide which default mappings exist (section 1.1). */
export interface DefaultMappingSetup {
  /** Team ownership drops SALESPEOPLE, the owner rows, and SALESPEOPLE from every dependency list. */
  ownershipModel: OwnershipModel;
  /** The Dynamics 365 Sales connection: adds the Sales set to the eight Dataverse base mappings. */
  salesIntegration: boolean;
  /** CRM Connection Setup "Unit Group Mapping Enabled": UNIT GROUP + ITEM UOM + RESOURCE UOM instead of UNIT OF MEASURE. */
  unitGroupMapping: boolean;
  /** New pricing experience: PLHEADER-PRICE + PLLINE-PRODPRICE instead of CUSTPRCGRP-PRICE + SALESPRC-PRODPRICE. */
  extendedPricing: boolean;
  /** 'legacy' = one-way SALESORDER-ORDER; 'bidirectional' = SALESORDER-ORDER + SOLINE-ORDERDETAIL. */
  salesOrderIntegration: 'none' | 'legacy' | 'bidirectional';
  /**
   * Sales & Receivables Setup "Default Price List Code" is set: PLHEADER-PRICE then filters on
   * "Allow Updating Defaults" = true instead of false. Default false.
   */
  defaultPriceListCodeSet?: boolean;
}

export const ALL_DEFAULT_MAPPING_NAMES = [
  'SALESPEOPLE',
  'CUSTOMER',
  'VENDOR',
  'CONTACT',
  'CURRENCY',
  'PAYMENT TERMS',
  'SHIPMENT METHOD',
  'SHIPPING AGENT',
  'UNIT OF MEASURE',
  'UNIT GROUP',
  'ITEM UOM',
  'RESOURCE UOM',
  'ITEM-PRODUCT',
  'RESOURCE-PRODUCT',
  'CUSTPRCGRP-PRICE',
  'SALESPRC-PRODPRICE',
  'PLHEADER-PRICE',
  'PLLINE-PRODPRICE',
  'POSTEDSALESINV-INV',
  'POSTEDSALESLINE-INV',
  'OPPORTUNITY',
  'SALESORDER-ORDER',
  'SOLINE-ORDERDETAIL',
] as const;
export type DefaultMappingName = (typeof ALL_DEFAULT_MAPPING_NAMES)[number];

/** BC "company filter": rows of this company or rows without a company (`bcbi_companyid`). */
export const COMPANY_FILTER = '(_bcbi_companyid_value eq {companyId} or _bcbi_companyid_value eq null)';

// ---------------------------------------------------------------------------------------------------------
// Builders. Directions in BC's words: ToIntegrationTable = BC → Dataverse, FromIntegrationTable = Dataverse → BC.

type FieldExtra = Omit<Partial<FieldMappingInput>, 'direction'>;

function field(alField: string, bcField: string, dataverseColumn: string, direction: Direction, extra: FieldExtra = {}): FieldMapping {
  return FieldMappingSchema.parse({ alField, bcField, dataverseColumn, direction, ...extra });
}

/** A row with BC field 0: the constant is written to the Dataverse column. */
function constToDataverse(dataverseColumn: string, value: string | number | boolean, label: string, extra: FieldExtra = {}): FieldMapping {
  return FieldMappingSchema.parse({
    alField: null,
    bcField: null,
    dataverseColumn,
    direction: 'ToIntegrationTable',
    constant: { value, label },
    ...extra,
  });
}

/** A row with Dataverse field 0: the constant is written to the BC field. */
function constToBc(alField: string, bcField: string, value: string, extra: FieldExtra = {}): FieldMapping {
  return FieldMappingSchema.parse({
    alField,
    bcField,
    dataverseColumn: null,
    direction: 'FromIntegrationTable',
    constant: { value, label: value },
    ...extra,
  });
}

const lookup = (mapping: string, entitySet: string, more: Partial<Extract<Transformation, { kind: 'lookup' }>> = {}): Transformation => ({
  kind: 'lookup',
  mapping,
  entitySet,
  alsoMappings: [],
  bcKey: 'code',
  ...more,
});
const currency: Transformation = { kind: 'currency', mapping: 'CURRENCY', entitySet: 'transactioncurrencies', bcKey: 'code' };
const optionMap = (optionMapping: string, bcKey: 'code' | 'id'): Transformation => ({
  kind: 'optionMap',
  optionMapping,
  map: {},
  bcKey,
  unmapped: 'blank',
});
const nonNegative: Transformation = { kind: 'nonNegative' };

/** Owner rows exist only for the Person ownership model (section 2 "Owner"). */
function ownerRows(alField: string, bcField: string, bcExtension: boolean): FieldMapping[] {
  return [
    constToDataverse('owneridtype', 'systemuser', 'systemuser', {
      validateOnWrite: false,
      onlyForOwnership: 'Person',
      dataverseType: 'EntityName',
      note: 'Selects the systemuser target of ownerid; not written as a column of its own.',
    }),
    field(alField, bcField, 'ownerid', 'ToIntegrationTable', {
      notNull: true,
      onlyForOwnership: 'Person',
      bcExtension,
      dataverseType: 'Owner',
      transformation: lookup('SALESPEOPLE', 'systemusers'),
      note: 'Resolves to the systemuser coupled with the salesperson.',
    }),
  ];
}

const webhookBoth: ChangeCapture = { bc: 'webhook', dataverse: 'webhook' };
const noCoupling: CouplingRules = { matchFields: [], createNewIfNoMatch: false, synchAfterMatchBasedCoupling: false };

function table(input: Omit<TableMappingInput, 'queueName'> & { queueName?: string }): TableMapping {
  return TableMappingSchema.parse({
    couplingRules: noCoupling,
    ...input,
    queueName: input.queueName ?? queueNameFor(input.parent ?? input.name),
  });
}

const job = (inactivityTimeoutMinutes: 720 | 1440) => ({ intervalMinutes: 30, inactivityTimeoutMinutes });

// ---------------------------------------------------------------------------------------------------------
// Dataverse base set (CDS Setup Defaults)

function salespeople(): TableMapping {
  return table({
    name: 'SALESPEOPLE',
    // API v2.0 salespeoplePurchasers exists only from BC 26; the extension's page serves every supported version.
    bc: { kind: 'customApi', entitySet: 'salespeoplePurchasers', table: 'Salesperson/Purchaser', tableId: 13 },
    dataverse: { entityLogicalName: 'systemuser', entitySet: 'systemusers', primaryKey: 'systemuserid', modifiedOnColumn: 'modifiedon' },
    direction: 'FromIntegrationTable',
    integrationTableFilter: 'isdisabled eq false and islicensed eq true and isintegrationuser eq false',
    synchOnlyCoupledRecords: true,
    // BC asks the admin to couple salespeople by hand; we ship the obvious criterion (the person's name) so a
    // customer with an uncoupled salesperson can couple it on the fly. It never creates users.
    couplingRules: {
      matchFields: [
        { bcField: 'email', dataverseColumn: 'internalemailaddress', priority: 0, caseSensitive: false },
        { bcField: 'displayName', dataverseColumn: 'fullname', priority: 1, caseSensitive: false },
      ],
      createNewIfNoMatch: false,
      synchAfterMatchBasedCoupling: true,
    },
    ownership: 'None',
    // The extension's page accepts webhook subscriptions like any API page (API v2.0 salespeoplePurchasers has none
    // before BC 26, which is why BC's own integration polls it).
    changeCapture: webhookBoth,
    polling: job(1440),
    fields: [
      field('E-Mail', 'email', 'internalemailaddress', 'FromIntegrationTable'),
      field('Name', 'displayName', 'fullname', 'FromIntegrationTable'),
      field('Phone No.', 'phoneNo', 'mobilephone', 'FromIntegrationTable'),
      field('Job Title', 'jobTitle', 'jobtitle', 'Bidirectional', { status: 'Disabled' }),
      field('E-Mail 2', 'email2', 'personalemailaddress', 'Bidirectional', { status: 'Disabled' }),
    ],
  });
}

/** CUSTOMER and VENDOR share the account field list (2.1, 2.2). */
function accountFields(kind: 'customer' | 'vendor'): FieldMapping[] {
  const customer = kind === 'customer';
  return [
    ...(customer ? ownerRows('Salesperson Code', 'salespersonCode', false) : ownerRows('Purchaser Code', 'purchaserCode', true)),
    field('Name', 'displayName', 'name', 'Bidirectional'),
    field('Contact', 'contactName', 'address1_primarycontactname', 'Bidirectional', { validateOnWrite: false, bcExtension: true }),
    field('Address', 'addressLine1', 'address1_line1', 'Bidirectional'),
    field('Address 2', 'addressLine2', 'address1_line2', 'Bidirectional'),
    field('Post Code', 'postalCode', 'address1_postalcode', 'Bidirectional'),
    field('City', 'city', 'address1_city', 'Bidirectional'),
    field('Country/Region Code', 'country', 'address1_country', 'Bidirectional', { validateOnWrite: false }),
    field('County', 'state', 'address1_stateorprovince', 'Bidirectional'),
    field('Currency Code', 'currencyCode', 'transactioncurrencyid', 'Bidirectional', { transformation: currency }),
    field('E-Mail', 'email', 'emailaddress1', 'Bidirectional'),
    field('Fax No.', 'faxNumber', 'fax', 'Bidirectional', { bcExtension: true }),
    field('Home Page', 'website', 'websiteurl', 'Bidirectional'),
    field('Phone No.', 'phoneNumber', 'telephone1', 'Bidirectional'),
    // The vendors API v2.0 page has no shipment method, the customers page only its SystemId.
    customer
      ? field('Shipment Method Code', 'shipmentMethodId', 'address1_freighttermscode', 'Bidirectional', {
          transformation: optionMap('SHIPMENT METHOD', 'id'),
        })
      : field('Shipment Method Code', 'shipmentMethodCode', 'address1_freighttermscode', 'Bidirectional', {
          transformation: optionMap('SHIPMENT METHOD', 'code'),
          bcExtension: true,
        }),
    field('Shipping Agent Code', 'shippingAgentCode', 'address1_shippingmethodcode', 'Bidirectional', {
      transformation: optionMap('SHIPPING AGENT', 'code'),
      bcExtension: true,
    }),
    field('Payment Terms Code', 'paymentTermsId', 'paymenttermscode', 'Bidirectional', {
      transformation: optionMap('PAYMENT TERMS', 'id'),
    }),
    ...(customer ? [field('Credit Limit (LCY)', 'creditLimit', 'creditlimit', 'ToIntegrationTable')] : []),
    field('Primary Contact No.', 'primaryContactNumber', 'primarycontactid', 'Bidirectional', {
      clearValueOnFailedSync: true,
      bcExtension: true,
      transformation: lookup('CONTACT', 'contacts'),
    }),
    field('No.', 'number', 'accountnumber', 'ToIntegrationTable', { status: 'Disabled' }),
    field('Mobile Phone No.', 'mobilePhoneNumber', 'telephone2', 'Bidirectional', { status: 'Disabled', bcExtension: true }),
  ];
}

function customer(): TableMapping {
  return table({
    name: 'CUSTOMER',
    bc: { kind: 'apiV2', entitySet: 'customers', table: 'Customer', tableId: 18, extensionEntitySet: 'customers' },
    dataverse: { entityLogicalName: 'account', entitySet: 'accounts', primaryKey: 'accountid', modifiedOnColumn: 'modifiedon' },
    direction: 'Bidirectional',
    tableFilter: "blocked eq ' '",
    // customertypecode 3 = Customer.
    integrationTableFilter: `statecode eq 0 and customertypecode eq 3 and ${COMPANY_FILTER}`,
    // BC's Dataverse template BCICUSTOME.
    insertTemplate: { bc: {}, dataverse: { customertypecode: 3 } },
    synchOnlyCoupledRecords: true,
    dependencies: ['SALESPEOPLE', 'CURRENCY', 'PAYMENT TERMS', 'SHIPMENT METHOD', 'SHIPPING AGENT'],
    ownership: 'Person',
    changeCapture: webhookBoth,
    polling: job(720),
    fields: accountFields('customer'),
  });
}

function vendor(): TableMapping {
  return table({
    name: 'VENDOR',
    bc: { kind: 'apiV2', entitySet: 'vendors', table: 'Vendor', tableId: 23, extensionEntitySet: 'vendors' },
    dataverse: { entityLogicalName: 'account', entitySet: 'accounts', primaryKey: 'accountid', modifiedOnColumn: 'modifiedon' },
    direction: 'Bidirectional',
    tableFilter: "blocked eq ' '",
    // customertypecode 11 = Vendor.
    integrationTableFilter: `statecode eq 0 and customertypecode eq 11 and ${COMPANY_FILTER}`,
    // BC's Dataverse template BCIVENDOR.
    insertTemplate: { bc: {}, dataverse: { customertypecode: 11 } },
    synchOnlyCoupledRecords: true,
    dependencies: ['SALESPEOPLE', 'CURRENCY', 'PAYMENT TERMS', 'SHIPMENT METHOD', 'SHIPPING AGENT'],
    ownership: 'Person',
    changeCapture: webhookBoth,
    polling: job(720),
    fields: accountFields('vendor'),
  });
}

function contact(): TableMapping {
  return table({
    name: 'CONTACT',
    bc: { kind: 'apiV2', entitySet: 'contacts', table: 'Contact', tableId: 5050, extensionEntitySet: 'contacts' },
    dataverse: { entityLogicalName: 'contact', entitySet: 'contacts', primaryKey: 'contactid', modifiedOnColumn: 'modifiedon' },
    direction: 'Bidirectional',
    tableFilter: "type eq 'Person' and companyNumber ne ''",
    integrationTableFilter: `_parentcustomerid_value ne null and statecode eq 0 and parentcustomerid_account/accountid ne null and ${COMPANY_FILTER}`,
    synchOnlyCoupledRecords: true,
    dependencies: ['CUSTOMER', 'VENDOR'],
    ownership: 'Person',
    // contacts is not in the documented webhook resource list (api-contracts D.3).
    changeCapture: { bc: 'polling', dataverse: 'webhook' },
    polling: job(720),
    fields: [
      ...ownerRows('Salesperson Code', 'salespersonCode', true),
      field('Currency Code', 'currencyCode', 'transactioncurrencyid', 'Bidirectional', { transformation: currency, bcExtension: true }),
      field('Address', 'addressLine1', 'address1_line1', 'Bidirectional'),
      field('Address 2', 'addressLine2', 'address1_line2', 'Bidirectional'),
      field('Post Code', 'postalCode', 'address1_postalcode', 'Bidirectional'),
      field('City', 'city', 'address1_city', 'Bidirectional'),
      field('Country/Region Code', 'country', 'address1_country', 'Bidirectional', { validateOnWrite: false }),
      field('County', 'state', 'address1_stateorprovince', 'Bidirectional'),
      field('E-Mail', 'email', 'emailaddress1', 'Bidirectional'),
      field('Fax No.', 'faxNumber', 'fax', 'Bidirectional', { bcExtension: true }),
      field('First Name', 'firstName', 'firstname', 'Bidirectional', { bcExtension: true }),
      field('Middle Name', 'middleName', 'middlename', 'Bidirectional', { bcExtension: true }),
      field('Surname', 'surname', 'lastname', 'Bidirectional', { bcExtension: true }),
      field('Home Page', 'website', 'websiteurl', 'Bidirectional'),
      field('Mobile Phone No.', 'mobilePhoneNumber', 'mobilephone', 'Bidirectional'),
      field('Pager', 'pager', 'pager', 'Bidirectional', { bcExtension: true }),
      field('Phone No.', 'phoneNumber', 'telephone1', 'Bidirectional'),
      constToBc('Type', 'type', 'Person'),
      constToDataverse('parentcustomeridtype', 'account', 'account', {
        validateOnWrite: false,
        dataverseType: 'EntityName',
        note: 'The company link (parentcustomerid) is set by the engine from the business relation, not by a field mapping.',
      }),
      field('Salutation Code', 'salutationCode', 'salutation', 'Bidirectional', { status: 'Disabled', bcExtension: true }),
    ],
  });
}

function currencyMapping(): TableMapping {
  return table({
    name: 'CURRENCY',
    bc: { kind: 'apiV2', entitySet: 'currencies', table: 'Currency', tableId: 4 },
    dataverse: {
      entityLogicalName: 'transactioncurrency',
      entitySet: 'transactioncurrencies',
      primaryKey: 'transactioncurrencyid',
      modifiedOnColumn: 'modifiedon',
    },
    direction: 'ToIntegrationTable',
    synchOnlyCoupledRecords: true,
    couplingRules: {
      matchFields: [{ bcField: 'code', dataverseColumn: 'isocurrencycode', priority: 0, caseSensitive: false }],
      createNewIfNoMatch: true,
      synchAfterMatchBasedCoupling: true,
    },
    ownership: 'None',
    changeCapture: webhookBoth,
    polling: job(720),
    fields: [
      field('Code', 'code', 'isocurrencycode', 'ToIntegrationTable'),
      field('Symbol', 'symbol', 'currencysymbol', 'ToIntegrationTable', { note: 'Empty symbol is written as the ISO code.' }),
      field('Description', 'displayName', 'currencyname', 'ToIntegrationTable'),
    ],
  });
}

function optionMappingTable(
  name: 'PAYMENT TERMS' | 'SHIPMENT METHOD' | 'SHIPPING AGENT',
  bc: TableMappingInput['bc'],
  column: string,
): TableMapping {
  return table({
    name,
    bc,
    dataverse: { entityLogicalName: 'account', entitySet: 'accounts', primaryKey: column, modifiedOnColumn: null, optionSetColumn: column },
    direction: 'ToIntegrationTable',
    synchOnlyCoupledRecords: true,
    couplingRules: {
      matchFields: [{ bcField: 'code', dataverseColumn: column, priority: 0, caseSensitive: false }],
      createNewIfNoMatch: true,
      synchAfterMatchBasedCoupling: true,
    },
    ownership: 'None',
    // Option-set metadata changes raise no Dataverse message a webhook step could catch.
    changeCapture: { bc: 'webhook', dataverse: 'polling' },
    polling: job(1440),
    optionMapping: true,
    fields: [
      field(
        'Code',
        'code',
        column,
        'ToIntegrationTable',
        name === 'PAYMENT TERMS'
          ? {}
          : {
              note: 'BC creates this field mapping FromIntegrationTable; ResetOptionMappingConfiguration forces it (and the table) to ToIntegrationTable.',
            },
      ),
    ],
  });
}

// ---------------------------------------------------------------------------------------------------------
// Sales set (CRM Setup Defaults)

function unitOfMeasure(): TableMapping {
  return table({
    name: 'UNIT OF MEASURE',
    bc: { kind: 'apiV2', entitySet: 'unitsOfMeasure', table: 'Unit of Measure', tableId: 204 },
    dataverse: { entityLogicalName: 'uomschedule', entitySet: 'uomschedules', primaryKey: 'uomscheduleid', modifiedOnColumn: 'modifiedon' },
    direction: 'ToIntegrationTable',
    synchOnlyCoupledRecords: true,
    ownership: 'None',
    changeCapture: webhookBoth,
    polling: job(720),
    fields: [
      field('Code', 'code', 'baseuomname', 'ToIntegrationTable', {
        note: "After transfer the unit group is named 'NAV <Code>' and its single unit renamed to the code; uncoupled units match a group of that name.",
      }),
    ],
  });
}

function unitGroup(): TableMapping {
  const code: Transformation = { kind: 'format', template: '{sourceType} {value} UOM GR', uppercase: true };
  return table({
    name: 'UNIT GROUP',
    bc: { kind: 'customApi', entitySet: 'unitGroups', table: 'Unit Group', tableId: 5400 },
    dataverse: { entityLogicalName: 'uomschedule', entitySet: 'uomschedules', primaryKey: 'uomscheduleid', modifiedOnColumn: 'modifiedon' },
    direction: 'ToIntegrationTable',
    synchOnlyCoupledRecords: true,
    couplingRules: {
      matchFields: [{ bcField: 'sourceNumber', dataverseColumn: 'name', priority: 0, caseSensitive: false }],
      createNewIfNoMatch: true,
      synchAfterMatchBasedCoupling: true,
    },
    ownership: 'None',
    changeCapture: webhookBoth,
    polling: job(720),
    fields: [
      field('Source No.', 'sourceNumber', 'name', 'ToIntegrationTable', {
        transformation: code,
        note: 'UnitGroup.GetCode(): ITEM <No.> UOM GR / RESOURCE <No.> UOM GR.',
      }),
      field('Source No.', 'sourceNumber', 'baseuomname', 'ToIntegrationTable', { transformation: code }),
    ],
  });
}

function ownerUnitOfMeasure(name: 'ITEM UOM' | 'RESOURCE UOM'): TableMapping {
  const item = name === 'ITEM UOM';
  return table({
    name,
    bc: item
      ? { kind: 'customApi', entitySet: 'itemUnitsOfMeasure', table: 'Item Unit of Measure', tableId: 5404 }
      : { kind: 'customApi', entitySet: 'resourceUnitsOfMeasure', table: 'Resource Unit of Measure', tableId: 205 },
    dataverse: { entityLogicalName: 'uom', entitySet: 'uoms', primaryKey: 'uomid', modifiedOnColumn: 'modifiedon' },
    direction: 'ToIntegrationTable',
    synchOnlyCoupledRecords: true,
    dependencies: ['UNIT GROUP'],
    couplingRules: {
      matchFields: [{ bcField: 'code', dataverseColumn: 'name', priority: 0, caseSensitive: false }],
      createNewIfNoMatch: true,
      synchAfterMatchBasedCoupling: true,
    },
    ownership: 'None',
    changeCapture: webhookBoth,
    polling: job(720),
    fields: [
      field('Code', 'code', 'name', 'ToIntegrationTable'),
      field('Qty. per Unit of Measure', 'qtyPerUnitOfMeasure', 'quantity', 'ToIntegrationTable', {
        note: 'After insert, product price-list lines are created for the new unit.',
      }),
    ],
  });
}

function itemProduct(unitGroups: boolean): TableMapping {
  return table({
    name: 'ITEM-PRODUCT',
    bc: { kind: 'apiV2', entitySet: 'items', table: 'Item', tableId: 27, extensionEntitySet: 'items' },
    dataverse: { entityLogicalName: 'product', entitySet: 'products', primaryKey: 'productid', modifiedOnColumn: 'modifiedon' },
    direction: 'Bidirectional',
    tableFilter: 'blocked eq false',
    // producttypecode 1 = Sales Inventory.
    integrationTableFilter: `${COMPANY_FILTER} and producttypecode eq 1 and statecode eq 0`,
    synchOnlyCoupledRecords: true,
    dependencies: [unitGroups ? 'ITEM UOM' : 'UNIT OF MEASURE'],
    ownership: 'None',
    changeCapture: webhookBoth,
    polling: job(1440),
    fields: [
      field('No.', 'number', 'productnumber', 'ToIntegrationTable'),
      field('Description', 'displayName', 'name', 'Bidirectional'),
      field('Unit Price', 'unitPrice', 'price', 'ToIntegrationTable', { transformation: nonNegative }),
      field('Unit Cost', 'unitCost', 'standardcost', 'ToIntegrationTable'),
      field('Unit Cost', 'unitCost', 'currentcost', 'ToIntegrationTable'),
      field('Unit Volume', 'unitVolume', 'stockvolume', 'ToIntegrationTable', { bcExtension: true }),
      field('Gross Weight', 'grossWeight', 'stockweight', 'ToIntegrationTable', { bcExtension: true }),
      field('Vendor No.', 'vendorNumber', 'vendorid', 'ToIntegrationTable', {
        bcExtension: true,
        note: 'product.vendorid is a text column; the vendor name column is refreshed too.',
      }),
      field('Vendor Item No.', 'vendorItemNumber', 'vendorpartnumber', 'ToIntegrationTable', { bcExtension: true }),
      field('Inventory', 'inventory', 'quantityonhand', 'ToIntegrationTable', { transformation: nonNegative }),
      unitGroups
        ? field('Base Unit of Measure', 'baseUnitOfMeasureCode', 'defaultuomid', 'Bidirectional', {
            transformation: { kind: 'unit', mapping: 'ITEM UOM', entitySet: 'uoms', ownerBcField: 'number' },
          })
        : field('Base Unit of Measure', 'baseUnitOfMeasureCode', 'defaultuomscheduleid', 'Bidirectional', {
            transformation: { kind: 'unit', mapping: 'UNIT OF MEASURE', entitySet: 'uomschedules' },
          }),
    ],
  });
}

function resourceProduct(unitGroups: boolean): TableMapping {
  return table({
    name: 'RESOURCE-PRODUCT',
    bc: { kind: 'customApi', entitySet: 'resources', table: 'Resource', tableId: 156 },
    dataverse: { entityLogicalName: 'product', entitySet: 'products', primaryKey: 'productid', modifiedOnColumn: 'modifiedon' },
    direction: 'Bidirectional',
    tableFilter: 'blocked eq false',
    // producttypecode 3 = Services.
    integrationTableFilter: `${COMPANY_FILTER} and producttypecode eq 3 and statecode eq 0`,
    synchOnlyCoupledRecords: true,
    dependencies: [unitGroups ? 'RESOURCE UOM' : 'UNIT OF MEASURE'],
    ownership: 'None',
    changeCapture: webhookBoth,
    polling: job(720),
    fields: [
      field('No.', 'number', 'productnumber', 'ToIntegrationTable'),
      field('Name', 'name', 'name', 'Bidirectional'),
      field('Unit Price', 'unitPrice', 'price', 'ToIntegrationTable'),
      field('Unit Cost', 'unitCost', 'standardcost', 'ToIntegrationTable'),
      field('Unit Cost', 'unitCost', 'currentcost', 'ToIntegrationTable'),
      field('Vendor No.', 'vendorNumber', 'vendorid', 'ToIntegrationTable'),
      field('Capacity', 'capacity', 'quantityonhand', 'ToIntegrationTable'),
      ...(unitGroups
        ? [
            field('Base Unit of Measure', 'baseUnitOfMeasureCode', 'defaultuomid', 'ToIntegrationTable', {
              transformation: { kind: 'unit', mapping: 'RESOURCE UOM', entitySet: 'uoms', ownerBcField: 'number' },
            }),
          ]
        : []),
    ],
  });
}

/** BC maps these, but its proxy table 5347 "CRM Productpricelevel" never sends them (ExternalAccess Read / Modify). */
const READ_ONLY_PRODUCT_NUMBER =
  'Read-only on productpricelevel (IsValidForCreate/Update false; BC table 5347 ExternalAccess = Read): Dataverse copies the product number.';
const PRICE_LINE_CURRENCY =
  'Not valid for create on productpricelevel (BC table 5347 ExternalAccess = Modify): Dataverse takes the price list currency.';

const pricingMethodCurrencyAmount = () =>
  // pricingmethodcode 1 = Currency Amount.
  constToDataverse('pricingmethodcode', 1, 'CurrencyAmount', { validateOnWrite: false, dataverseType: 'Picklist' });

function customerPriceGroup(): TableMapping {
  return table({
    name: 'CUSTPRCGRP-PRICE',
    bc: { kind: 'customApi', entitySet: 'customerPriceGroups', table: 'Customer Price Group', tableId: 6 },
    dataverse: { entityLogicalName: 'pricelevel', entitySet: 'pricelevels', primaryKey: 'pricelevelid', modifiedOnColumn: 'modifiedon' },
    direction: 'ToIntegrationTable',
    integrationTableFilter: COMPANY_FILTER,
    synchOnlyCoupledRecords: true,
    dependencies: ['CURRENCY', 'ITEM-PRODUCT'],
    ownership: 'None',
    changeCapture: webhookBoth,
    polling: job(1440),
    fields: [field('Code', 'code', 'name', 'ToIntegrationTable')],
  });
}

function salesPrice(): TableMapping {
  return table({
    name: 'SALESPRC-PRODPRICE',
    bc: { kind: 'customApi', entitySet: 'salesPrices', table: 'Sales Price', tableId: 7002 },
    dataverse: {
      entityLogicalName: 'productpricelevel',
      entitySet: 'productpricelevels',
      primaryKey: 'productpricelevelid',
      modifiedOnColumn: 'modifiedon',
    },
    direction: 'ToIntegrationTable',
    tableFilter: "salesType eq 'Customer Price Group' and salesCode ne ''",
    synchOnlyCoupledRecords: false,
    dependencies: ['CUSTPRCGRP-PRICE', 'ITEM-PRODUCT'],
    ownership: 'None',
    changeCapture: webhookBoth,
    polling: job(1440),
    fields: [
      field('Sales Code', 'salesCode', 'pricelevelid', 'ToIntegrationTable', { transformation: lookup('CUSTPRCGRP-PRICE', 'pricelevels') }),
      field('Item No.', 'itemNumber', 'productid', 'ToIntegrationTable', { transformation: lookup('ITEM-PRODUCT', 'products') }),
      field('Item No.', 'itemNumber', 'productnumber', 'ToIntegrationTable', { status: 'Disabled', note: READ_ONLY_PRODUCT_NUMBER }),
      field('Currency Code', 'currencyCode', 'transactioncurrencyid', 'ToIntegrationTable', {
        transformation: currency,
        status: 'Disabled',
        note: PRICE_LINE_CURRENCY,
      }),
      pricingMethodCurrencyAmount(),
      field('Unit Price', 'unitPrice', 'amount', 'ToIntegrationTable'),
    ],
  });
}

function priceListHeader(defaultPriceListCodeSet: boolean): TableMapping {
  return table({
    name: 'PLHEADER-PRICE',
    bc: { kind: 'customApi', entitySet: 'priceListHeaders', table: 'Price List Header', tableId: 7000 },
    dataverse: { entityLogicalName: 'pricelevel', entitySet: 'pricelevels', primaryKey: 'pricelevelid', modifiedOnColumn: 'modifiedon' },
    direction: 'ToIntegrationTable',
    tableFilter: `priceType eq 'Sale' and amountType eq 'Price' and allowUpdatingDefaults eq ${defaultPriceListCodeSet}`,
    integrationTableFilter: COMPANY_FILTER,
    synchOnlyCoupledRecords: true,
    dependencies: ['CURRENCY', 'ITEM-PRODUCT'],
    ownership: 'None',
    changeCapture: webhookBoth,
    polling: job(1440),
    fields: [
      field('Code', 'code', 'name', 'ToIntegrationTable'),
      field('Description', 'description', 'description', 'ToIntegrationTable'),
      field('Currency Code', 'currencyCode', 'transactioncurrencyid', 'ToIntegrationTable', { transformation: currency }),
      field('Starting Date', 'startingDate', 'begindate', 'ToIntegrationTable'),
      field('Ending Date', 'endingDate', 'enddate', 'ToIntegrationTable'),
    ],
  });
}

function priceListLine(unitGroups: boolean): TableMapping {
  return table({
    name: 'PLLINE-PRODPRICE',
    bc: { kind: 'customApi', entitySet: 'priceListLines', table: 'Price List Line', tableId: 7001 },
    dataverse: {
      entityLogicalName: 'productpricelevel',
      entitySet: 'productpricelevels',
      primaryKey: 'productpricelevelid',
      modifiedOnColumn: 'modifiedon',
    },
    direction: 'ToIntegrationTable',
    tableFilter:
      "priceType eq 'Sale' and amountType eq 'Price' and (assetType eq 'Item' or assetType eq 'Resource') and minimumQuantity eq 0",
    synchOnlyCoupledRecords: false,
    dependencies: ['PLHEADER-PRICE', 'ITEM-PRODUCT'],
    ownership: 'None',
    changeCapture: webhookBoth,
    polling: job(1440),
    fields: [
      field('Price List Code', 'priceListCode', 'pricelevelid', 'ToIntegrationTable', {
        transformation: lookup('PLHEADER-PRICE', 'pricelevels'),
      }),
      field('Asset No.', 'assetNumber', 'productid', 'ToIntegrationTable', {
        transformation: lookup('ITEM-PRODUCT', 'products', { alsoMappings: ['RESOURCE-PRODUCT'] }),
      }),
      field('Asset No.', 'assetNumber', 'productnumber', 'ToIntegrationTable', { status: 'Disabled', note: READ_ONLY_PRODUCT_NUMBER }),
      field('Currency Code', 'currencyCode', 'transactioncurrencyid', 'ToIntegrationTable', {
        transformation: currency,
        status: 'Disabled',
        note: PRICE_LINE_CURRENCY,
      }),
      pricingMethodCurrencyAmount(),
      unitGroups
        ? field('Unit of Measure Code', 'unitOfMeasureCode', 'uomid', 'ToIntegrationTable', {
            transformation: { kind: 'unit', mapping: 'ITEM UOM', entitySet: 'uoms', ownerBcField: 'assetNumber' },
          })
        : field('Unit of Measure Code', 'unitOfMeasureCode', 'uomscheduleid', 'ToIntegrationTable', {
            transformation: { kind: 'unit', mapping: 'UNIT OF MEASURE', entitySet: 'uomschedules' },
          }),
      field('Unit Price', 'unitPrice', 'amount', 'ToIntegrationTable'),
    ],
  });
}

function opportunity(): TableMapping {
  return table({
    name: 'OPPORTUNITY',
    bc: { kind: 'customApi', entitySet: 'opportunities', table: 'Opportunity', tableId: 5092 },
    dataverse: {
      entityLogicalName: 'opportunity',
      entitySet: 'opportunities',
      primaryKey: 'opportunityid',
      modifiedOnColumn: 'modifiedon',
    },
    direction: 'Bidirectional',
    tableFilter: "(status eq 'Not Started' or status eq 'In Progress')",
    integrationTableFilter: COMPANY_FILTER,
    synchOnlyCoupledRecords: false,
    dependencies: ['CONTACT'],
    ownership: 'Person',
    changeCapture: webhookBoth,
    // ResetOpportunityMapping creates no job queue entry.
    polling: null,
    fields: [
      field('Description', 'description', 'name', 'Bidirectional'),
      field('Contact No.', 'contactNumber', 'parentcontactid', 'ToIntegrationTable', { transformation: lookup('CONTACT', 'contacts') }),
      field('Contact Company No.', 'contactCompanyNumber', 'parentaccountid', 'ToIntegrationTable', {
        transformation: lookup('CUSTOMER', 'accounts', { via: 'contactCompany' }),
        note: 'The account coupled with the customer related to the contact company.',
      }),
      ...ownerRows('Salesperson Code', 'salespersonCode', false),
      field('Estimated Value (LCY)', 'estimatedValue', 'estimatedvalue', 'ToIntegrationTable'),
      field('Estimated Closing Date', 'estimatedClosingDate', 'estimatedclosedate', 'ToIntegrationTable'),
      field('Date Closed', 'dateClosed', 'actualclosedate', 'ToIntegrationTable', { status: 'Disabled' }),
      field('Probability %', 'probabilityPercent', 'closeprobability', 'ToIntegrationTable', { status: 'Disabled' }),
      field('Calcd. Current Value (LCY)', 'calculatedCurrentValue', 'actualvalue', 'ToIntegrationTable', { status: 'Disabled' }),
    ],
  });
}

const shipTo = (dir: Direction): FieldMapping[] => [
  field('Ship-to Name', 'shipToName', 'shipto_name', dir),
  field('Ship-to Address', 'shipToAddressLine1', 'shipto_line1', dir),
  field('Ship-to Address 2', 'shipToAddressLine2', 'shipto_line2', dir),
  field('Ship-to City', 'shipToCity', 'shipto_city', dir),
  field('Ship-to Country/Region Code', 'shipToCountry', 'shipto_country', dir),
  field('Ship-to Post Code', 'shipToPostCode', 'shipto_postalcode', dir),
  field('Ship-to County', 'shipToState', 'shipto_stateorprovince', dir),
];

const billTo = (dir: Direction, withName: boolean): FieldMapping[] => [
  ...(withName ? [field('Bill-to Name', 'billToName', 'billto_name', dir)] : []),
  field('Bill-to Address', 'billToAddressLine1', 'billto_line1', dir),
  field('Bill-to Address 2', 'billToAddressLine2', 'billto_line2', dir),
  field('Bill-to City', 'billToCity', 'billto_city', dir),
  field('Bill-to Country/Region Code', 'billToCountry', 'billto_country', dir),
  field('Bill-to Post Code', 'billToPostCode', 'billto_postalcode', dir),
  field('Bill-to County', 'billToState', 'billto_stateorprovince', dir),
];

function postedSalesInvoice(): TableMapping {
  return table({
    name: 'POSTEDSALESINV-INV',
    bc: {
      kind: 'apiV2',
      entitySet: 'salesInvoices',
      table: 'Sales Invoice Header',
      tableId: 112,
      extensionEntitySet: 'postedSalesInvoices',
    },
    dataverse: { entityLogicalName: 'invoice', entitySet: 'invoices', primaryKey: 'invoiceid', modifiedOnColumn: 'modifiedon' },
    direction: 'ToIntegrationTable',
    // The salesInvoices API page also lists unposted drafts; Sales Invoice Header holds posted invoices only.
    tableFilter: "status ne 'Draft' and status ne 'In Review'",
    integrationTableFilter: COMPANY_FILTER,
    synchOnlyCoupledRecords: true,
    dependencies: ['ITEM-PRODUCT', 'RESOURCE-PRODUCT', 'OPPORTUNITY'],
    ownership: 'Person',
    changeCapture: webhookBoth,
    polling: job(1440),
    fields: [
      field('No.', 'number', 'invoicenumber', 'ToIntegrationTable'),
      ...ownerRows('Salesperson Code', 'salesperson', false),
      field('Currency Code', 'currencyCode', 'transactioncurrencyid', 'ToIntegrationTable', { transformation: currency }),
      field('Due Date', 'dueDate', 'duedate', 'ToIntegrationTable'),
      ...shipTo('ToIntegrationTable'),
      field('Shipment Date', 'shipmentDate', 'datedelivered', 'ToIntegrationTable', { bcExtension: true }),
      ...billTo('ToIntegrationTable', true),
      field('Amount', 'totalAmountExcludingTax', 'totalamountlessfreight', 'ToIntegrationTable'),
      field('Amount Including VAT', 'totalAmountIncludingTax', 'totalamount', 'ToIntegrationTable'),
      field('Invoice Discount Amount', 'discountAmount', 'discountamount', 'ToIntegrationTable'),
      field('Shipping Agent Code', 'shippingAgentCode', 'shippingmethodcode', 'ToIntegrationTable', {
        transformation: optionMap('SHIPPING AGENT', 'code'),
        bcExtension: true,
      }),
      field('Payment Terms Code', 'paymentTermsId', 'paymenttermscode', 'ToIntegrationTable', {
        transformation: optionMap('PAYMENT TERMS', 'id'),
      }),
      field('Work Description', 'workDescription', 'description', 'ToIntegrationTable', { validateOnWrite: false, bcExtension: true }),
    ],
  });
}

function postedSalesInvoiceLine(): TableMapping {
  return table({
    name: 'POSTEDSALESLINE-INV',
    bc: { kind: 'customApi', entitySet: 'postedSalesInvoiceLines', table: 'Sales Invoice Line', tableId: 113 },
    dataverse: {
      entityLogicalName: 'invoicedetail',
      entitySet: 'invoicedetails',
      primaryKey: 'invoicedetailid',
      modifiedOnColumn: 'modifiedon',
    },
    direction: 'ToIntegrationTable',
    synchOnlyCoupledRecords: false,
    dependencies: ['POSTEDSALESINV-INV'],
    ownership: 'None',
    changeCapture: webhookBoth,
    polling: null,
    parent: 'POSTEDSALESINV-INV',
    fields: [
      field('Quantity', 'quantity', 'quantity', 'ToIntegrationTable'),
      field('Line Discount Amount', 'discountAmount', 'manualdiscountamount', 'ToIntegrationTable'),
      field('Unit Price', 'unitPrice', 'priceperunit', 'ToIntegrationTable'),
      constToDataverse('ispriceoverridden', true, '1', { dataverseType: 'Boolean' }),
      field('Amount', 'amountExcludingTax', 'baseamount', 'ToIntegrationTable'),
      field('Amount Including VAT', 'amountIncludingTax', 'extendedamount', 'ToIntegrationTable'),
    ],
  });
}

function salesOrderLegacy(): TableMapping {
  return table({
    name: 'SALESORDER-ORDER',
    bc: { kind: 'apiV2', entitySet: 'salesOrders', table: 'Sales Header', tableId: 36, extensionEntitySet: 'salesOrders' },
    dataverse: { entityLogicalName: 'salesorder', entitySet: 'salesorders', primaryKey: 'salesorderid', modifiedOnColumn: 'modifiedon' },
    direction: 'ToIntegrationTable',
    // Document Type = Order is implied by the salesOrders page; the API shows Status Released as 'Open'.
    tableFilter: "status eq 'Open'",
    integrationTableFilter: COMPANY_FILTER,
    synchOnlyCoupledRecords: true,
    dependencies: ['ITEM-PRODUCT', 'RESOURCE-PRODUCT', 'OPPORTUNITY'],
    ownership: 'Person',
    changeCapture: webhookBoth,
    polling: job(720),
    fields: [
      field('No.', 'number', 'ordernumber', 'ToIntegrationTable'),
      ...ownerRows('Salesperson Code', 'salesperson', false),
      field('Currency Code', 'currencyCode', 'transactioncurrencyid', 'ToIntegrationTable', { transformation: currency }),
      ...shipTo('ToIntegrationTable'),
      field('Last Shipment Date', 'lastShipmentDate', 'datefulfilled', 'ToIntegrationTable', { bcExtension: true }),
      ...billTo('ToIntegrationTable', true),
      field('Amount', 'totalAmountExcludingTax', 'totalamountlessfreight', 'ToIntegrationTable'),
      field('Amount Including VAT', 'totalAmountIncludingTax', 'totalamount', 'ToIntegrationTable'),
      field('Invoice Discount Amount', 'discountAmount', 'discountamount', 'ToIntegrationTable'),
      field('Shipping Agent Code', 'shippingAgentCode', 'shippingmethodcode', 'ToIntegrationTable', {
        transformation: optionMap('SHIPPING AGENT', 'code'),
        bcExtension: true,
      }),
      field('Payment Terms Code', 'paymentTermsId', 'paymenttermscode', 'ToIntegrationTable', {
        transformation: optionMap('PAYMENT TERMS', 'id'),
      }),
      field('Requested Delivery Date', 'requestedDeliveryDate', 'requestdeliveryby', 'ToIntegrationTable'),
    ],
  });
}

function salesOrderBidirectional(): TableMapping {
  return table({
    name: 'SALESORDER-ORDER',
    bc: { kind: 'apiV2', entitySet: 'salesOrders', table: 'Sales Header', tableId: 36, extensionEntitySet: 'salesOrders' },
    dataverse: { entityLogicalName: 'salesorder', entitySet: 'salesorders', primaryKey: 'salesorderid', modifiedOnColumn: 'modifiedon' },
    direction: 'Bidirectional',
    tableFilter: "status eq 'Open'",
    // salesorder statecode 1 = Submitted.
    integrationTableFilter: `${COMPANY_FILTER} and statecode eq 1`,
    synchOnlyCoupledRecords: true,
    dependencies: ['CUSTOMER', 'ITEM-PRODUCT', 'RESOURCE-PRODUCT', 'OPPORTUNITY'],
    ownership: 'Person',
    changeCapture: webhookBoth,
    polling: job(720),
    fields: [
      ...ownerRows('Salesperson Code', 'salesperson', false),
      constToBc('Document Type', 'documentType', 'Order', { bcExtension: true }),
      field('No.', 'number', 'bcbi_businesscentralordernumber', 'ToIntegrationTable'),
      field('Your Reference', 'yourReference', 'ordernumber', 'FromIntegrationTable', { bcExtension: true }),
      constToDataverse('customeridtype', 'account', 'account', { validateOnWrite: false, dataverseType: 'EntityName' }),
      field('Sell-to Customer No.', 'customerNumber', 'customerid', 'Bidirectional', {
        transformation: lookup('CUSTOMER', 'accounts', { navigationProperty: 'customerid_account' }),
      }),
      field('Currency Code', 'currencyCode', 'transactioncurrencyid', 'Bidirectional', { transformation: currency }),
      field('Ship-to Name', 'shipToName', 'shipto_name', 'Bidirectional'),
      field('Ship-to Address', 'shipToAddressLine1', 'shipto_line1', 'Bidirectional'),
      field('Ship-to Address 2', 'shipToAddressLine2', 'shipto_line2', 'Bidirectional'),
      field('Ship-to Post Code', 'shipToPostCode', 'shipto_postalcode', 'Bidirectional'),
      field('Ship-to City', 'shipToCity', 'shipto_city', 'Bidirectional'),
      field('Ship-to Country/Region Code', 'shipToCountry', 'shipto_country', 'Bidirectional'),
      field('Ship-to County', 'shipToState', 'shipto_stateorprovince', 'Bidirectional'),
      field('Last Shipment Date', 'lastShipmentDate', 'datefulfilled', 'ToIntegrationTable', { bcExtension: true }),
      field('Bill-to Address', 'billToAddressLine1', 'billto_line1', 'Bidirectional'),
      field('Bill-to Address 2', 'billToAddressLine2', 'billto_line2', 'Bidirectional'),
      field('Bill-to Post Code', 'billToPostCode', 'billto_postalcode', 'Bidirectional'),
      field('Bill-to City', 'billToCity', 'billto_city', 'Bidirectional'),
      field('Bill-to Country/Region Code', 'billToCountry', 'billto_country', 'Bidirectional'),
      field('Bill-to County', 'billToState', 'billto_stateorprovince', 'Bidirectional'),
      field('Invoice Discount Amount', 'discountAmount', 'discountamount', 'ToIntegrationTable'),
      field('Shipping Agent Code', 'shippingAgentCode', 'shippingmethodcode', 'Bidirectional', {
        transformation: optionMap('SHIPPING AGENT', 'code'),
        bcExtension: true,
      }),
      field('Payment Terms Code', 'paymentTermsId', 'paymenttermscode', 'Bidirectional', {
        transformation: optionMap('PAYMENT TERMS', 'id'),
      }),
      field('Shipment Method Code', 'shipmentMethodId', 'freighttermscode', 'Bidirectional', {
        transformation: optionMap('SHIPMENT METHOD', 'id'),
      }),
      field('Requested Delivery Date', 'requestedDeliveryDate', 'requestdeliveryby', 'Bidirectional'),
      field('Payment Discount %', 'paymentDiscountPercent', 'discountpercentage', 'Bidirectional', { bcExtension: true }),
      field('Work Description', 'workDescription', 'description', 'Bidirectional', { validateOnWrite: false, bcExtension: true }),
    ],
  });
}

function salesOrderLine(): TableMapping {
  return table({
    name: 'SOLINE-ORDERDETAIL',
    // The extension's page over Sales Line itself: v2.0 salesOrderLines is a temporary buffer without webhooks.
    bc: { kind: 'customApi', entitySet: 'salesOrderLines', table: 'Sales Line', tableId: 37 },
    dataverse: {
      entityLogicalName: 'salesorderdetail',
      entitySet: 'salesorderdetails',
      primaryKey: 'salesorderdetailid',
      modifiedOnColumn: 'modifiedon',
    },
    direction: 'Bidirectional',
    // Document Type = Order is implied by salesOrderLines.
    tableFilter: "(lineType eq 'Item' or lineType eq 'Resource')",
    synchOnlyCoupledRecords: false,
    dependencies: ['SALESORDER-ORDER'],
    deletionConflictResolution: 'RemoveCoupling',
    ownership: 'None',
    changeCapture: webhookBoth,
    polling: null,
    parent: 'SALESORDER-ORDER',
    fields: [
      constToBc('Document Type', 'documentType', 'Order'),
      // producttypecode 1 = Product.
      constToDataverse('producttypecode', 1, 'Product', { validateOnWrite: false, dataverseType: 'Picklist' }),
      field('No.', 'lineObjectNumber', 'productid', 'Bidirectional', {
        transformation: lookup('ITEM-PRODUCT', 'products', { alsoMappings: ['RESOURCE-PRODUCT'] }),
      }),
      field('Line No.', 'sequence', 'bcbi_businesscentrallinenumber', 'Bidirectional'),
      field('Quantity', 'quantity', 'quantity', 'Bidirectional'),
      // BC computes these (read-only on the page): they only flow to Dataverse.
      field('Quantity Shipped', 'shippedQuantity', 'quantityshipped', 'ToIntegrationTable'),
      constToDataverse('ispriceoverridden', true, '1', { dataverseType: 'Boolean' }),
      field('Unit Price', 'unitPrice', 'priceperunit', 'Bidirectional'),
      field('Currency Code', 'currencyCode', 'transactioncurrencyid', 'ToIntegrationTable', { transformation: currency }),
      field('Amount', 'amountExcludingTax', 'baseamount', 'ToIntegrationTable'),
      field('Amount Including VAT', 'amountIncludingTax', 'extendedamount', 'ToIntegrationTable'),
      field('Requested Delivery Date', 'requestedDeliveryDate', 'requestdeliveryby', 'Bidirectional'),
    ],
  });
}

// ---------------------------------------------------------------------------------------------------------

/** Applies the Team ownership rules of `HandleOnEnableIntegration`: no owner rows, no SALESPEOPLE dependency. */
function applyOwnership(mapping: TableMapping, model: OwnershipModel): TableMapping {
  const ownership = mapping.ownership === 'None' ? 'None' : model;
  return {
    ...mapping,
    ownership,
    dependencies: model === 'Team' ? mapping.dependencies.filter((d) => d !== 'SALESPEOPLE') : mapping.dependencies,
    fields: mapping.fields.filter((f) => f.onlyForOwnership === undefined || f.onlyForOwnership === model),
  };
}

/**
 * BC's default mappings for a connection setup, in BC's creation order (Dataverse base set, then the Sales set:
 * units, products, pricing, posted invoices, opportunity, sales orders). Every call returns fresh objects.
 */
export function defaultMappings(setup: DefaultMappingSetup): TableMapping[] {
  const base: TableMapping[] = [
    salespeople(),
    customer(),
    vendor(),
    contact(),
    currencyMapping(),
    optionMappingTable(
      'PAYMENT TERMS',
      { kind: 'apiV2', entitySet: 'paymentTerms', table: 'Payment Terms', tableId: 3 },
      'paymenttermscode',
    ),
    optionMappingTable(
      'SHIPMENT METHOD',
      { kind: 'apiV2', entitySet: 'shipmentMethods', table: 'Shipment Method', tableId: 10 },
      'address1_freighttermscode',
    ),
    optionMappingTable(
      'SHIPPING AGENT',
      { kind: 'customApi', entitySet: 'shippingAgents', table: 'Shipping Agent', tableId: 291 },
      'address1_shippingmethodcode',
    ),
  ];
  const sales: TableMapping[] = [];
  if (setup.salesIntegration) {
    if (setup.unitGroupMapping) sales.push(unitGroup(), ownerUnitOfMeasure('ITEM UOM'), ownerUnitOfMeasure('RESOURCE UOM'));
    else sales.push(unitOfMeasure());
    sales.push(itemProduct(setup.unitGroupMapping), resourceProduct(setup.unitGroupMapping));
    if (setup.extendedPricing) sales.push(priceListHeader(setup.defaultPriceListCodeSet ?? false), priceListLine(setup.unitGroupMapping));
    else sales.push(customerPriceGroup(), salesPrice());
    sales.push(postedSalesInvoice(), postedSalesInvoiceLine(), opportunity());
    if (setup.salesOrderIntegration === 'legacy') sales.push(salesOrderLegacy());
    if (setup.salesOrderIntegration === 'bidirectional') sales.push(salesOrderBidirectional(), salesOrderLine());
  }
  return [...base, ...sales]
    .filter((m) => !(setup.ownershipModel === 'Team' && m.name === 'SALESPEOPLE'))
    .map((m) => applyOwnership(m, setup.ownershipModel));
}
