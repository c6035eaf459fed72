import { BC_EXTENSION_MANIFEST, type BcExtensionManifest } from '../../shared/bc-extension/manifest';

/**
 * BC tables and the API pages over them. A table holds the superset of fields the sync mappings need
 * (bc-integration-reference.md section 2); a page exposes a subset under an entity set name, exactly like
 * an AL API page over a table. Several pages can share one table (standard v2.0 page + our custom page),
 * and then share records, ids and ETags.
 */

export type FieldType =
  | { kind: 'text'; max: number }
  | { kind: 'code'; max: number }
  | { kind: 'guid' }
  | { kind: 'decimal' }
  | { kind: 'int' }
  | { kind: 'bool' }
  | { kind: 'date' }
  | { kind: 'datetime' }
  | { kind: 'enum'; options: string[] };

export interface FieldDef {
  name: string;
  type: FieldType;
  /** Not writable through the API (FlowFields, derived names, system fields). */
  readOnly: boolean;
}

export const BLANK_GUID = '00000000-0000-0000-0000-000000000000';
export const BLANK_DATE = '0001-01-01';

export type TableName =
  | 'customer'
  | 'vendor'
  | 'contact'
  | 'contactBusinessRelation'
  | 'item'
  | 'currency'
  | 'currencyExchangeRate'
  | 'unitOfMeasure'
  | 'paymentTerms'
  | 'shipmentMethod'
  | 'shippingAgent'
  | 'salesperson'
  | 'resource'
  | 'customerPriceGroup'
  | 'salesPrice'
  | 'priceListHeader'
  | 'priceListLine'
  | 'opportunity'
  | 'unitGroup'
  | 'itemUnitOfMeasure'
  | 'resourceUnitOfMeasure'
  | 'salesOrder'
  | 'salesOrderLine'
  | 'salesInvoice'
  | 'salesInvoiceLine';

export interface TableDef {
  name: TableName;
  /** BC table caption, used in error messages ("The Customer does not exist…"). */
  caption: string;
  /** Field that carries the record's primary key value (`No.`/`Code`), unique per company; undefined when the key is composite. */
  keyField?: string;
  /** BC primary key caption for duplicate-key messages, e.g. `No.`. */
  keyCaption?: string;
  /** No. Series start for records created without a number. */
  numberSeries?: string;
  fields: FieldDef[];
  fieldMap: Map<string, FieldDef>;
  /** Header table for line tables: a line change counts as a header change for webhooks (api-contracts.md D.3). */
  header?: { table: TableName; foreignKey: string };
}

function parseType(spec: string): FieldType {
  const [kind, arg] = spec.split(':') as [string, string | undefined];
  switch (kind) {
    case 'text':
      return { kind: 'text', max: Number(arg ?? 100) };
    case 'code':
      return { kind: 'code', max: Number(arg ?? 20) };
    case 'guid':
      return { kind: 'guid' };
    case 'dec':
      return { kind: 'decimal' };
    case 'int':
      return { kind: 'int' };
    case 'bool':
      return { kind: 'bool' };
    case 'date':
      return { kind: 'date' };
    case 'dt':
      return { kind: 'datetime' };
    case 'enum':
      return { kind: 'enum', options: (arg ?? '').split('|') };
    default:
      throw new Error(`unknown field type ${spec}`);
  }
}

/** `'!name'` marks a read-only field. */
function fields(spec: Record<string, string>): FieldDef[] {
  const out: FieldDef[] = [{ name: 'id', type: { kind: 'guid' }, readOnly: true }];
  for (const [raw, type] of Object.entries(spec)) {
    const readOnly = raw.startsWith('!');
    out.push({ name: readOnly ? raw.slice(1) : raw, type: parseType(type), readOnly });
  }
  out.push({ name: 'lastModifiedDateTime', type: { kind: 'datetime' }, readOnly: true });
  return out;
}

export function defaultValue(t: FieldType): unknown {
  switch (t.kind) {
    case 'text':
    case 'code':
      return '';
    case 'guid':
      return BLANK_GUID;
    case 'decimal':
    case 'int':
      return 0;
    case 'bool':
      return false;
    case 'date':
      return BLANK_DATE;
    case 'datetime':
      return '0001-01-01T00:00:00Z';
    case 'enum':
      return t.options[0];
  }
}

const address = {
  addressLine1: 'text:100',
  addressLine2: 'text:50',
  city: 'text:30',
  state: 'text:30',
  country: 'code:10',
  postalCode: 'code:20',
};

const documentAddresses = {
  sellToAddressLine1: 'text:100',
  sellToAddressLine2: 'text:50',
  sellToCity: 'text:30',
  sellToCountry: 'code:10',
  sellToState: 'text:30',
  sellToPostCode: 'code:20',
  billToName: 'text:100',
  billToCustomerId: 'guid',
  billToCustomerNumber: 'code:20',
  billToAddressLine1: 'text:100',
  billToAddressLine2: 'text:50',
  billToCity: 'text:30',
  billToCountry: 'code:10',
  billToState: 'text:30',
  billToPostCode: 'code:20',
  shipToName: 'text:100',
  shipToContact: 'text:100',
  shipToAddressLine1: 'text:100',
  shipToAddressLine2: 'text:50',
  shipToCity: 'text:30',
  shipToCountry: 'code:10',
  shipToState: 'text:30',
  shipToPostCode: 'code:20',
};

const lineFields = {
  '!documentId': 'guid',
  sequence: 'int',
  itemId: 'guid',
  accountId: 'guid',
  lineType: 'enum:Comment|Account|Item|Resource|Fixed Asset|Charge',
  lineObjectNumber: 'code:20',
  description: 'text:100',
  description2: 'text:50',
  unitOfMeasureId: 'guid',
  unitOfMeasureCode: 'code:10',
  quantity: 'dec',
  unitPrice: 'dec',
  discountAmount: 'dec',
  discountPercent: 'dec',
  '!discountAppliedBeforeTax': 'bool',
  '!amountExcludingTax': 'dec',
  taxCode: 'code:20',
  '!taxPercent': 'dec',
  '!totalTaxAmount': 'dec',
  '!amountIncludingTax': 'dec',
  '!invoiceDiscountAllocation': 'dec',
  '!netAmount': 'dec',
  '!netTaxAmount': 'dec',
  '!netAmountIncludingTax': 'dec',
  shipmentDate: 'date',
  itemVariantId: 'guid',
  locationId: 'guid',
};

const documentHeader = {
  externalDocumentNumber: 'code:35',
  postingDate: 'date',
  customerId: 'guid',
  customerNumber: 'code:20',
  '!customerName': 'text:100',
  ...documentAddresses,
  shortcutDimension1Code: 'code:20',
  shortcutDimension2Code: 'code:20',
  currencyId: 'guid',
  currencyCode: 'code:10',
  pricesIncludeTax: 'bool',
  paymentTermsId: 'guid',
  shipmentMethodId: 'guid',
  salesperson: 'code:20',
  discountAmount: 'dec',
  '!discountAppliedBeforeTax': 'bool',
  '!totalAmountExcludingTax': 'dec',
  '!totalTaxAmount': 'dec',
  '!totalAmountIncludingTax': 'dec',
  phoneNumber: 'text:30',
  email: 'text:80',
  // Fields the sales-order / posted-invoice mappings need that API v2.0 does not expose (custom page only).
  shippingAgentCode: 'code:10',
  shipmentMethodCode: 'code:10',
  paymentTermsCode: 'code:10',
  yourReference: 'text:35',
  workDescription: 'text:2048',
};

/** Sales Line fields only the custom salesOrderLines page shows (the SOLINE-ORDERDETAIL mapping needs them). */
const customOnlyOrderLineFields = new Set(['documentType', 'currencyCode', 'requestedDeliveryDate']);

const rawTables: Array<Omit<TableDef, 'fieldMap'>> = [
  {
    name: 'customer',
    caption: 'Customer',
    keyField: 'number',
    keyCaption: 'No.',
    numberSeries: 'C00010',
    fields: fields({
      number: 'code:20',
      displayName: 'text:100',
      type: 'enum:Company|Person',
      ...address,
      phoneNumber: 'text:30',
      email: 'text:80',
      website: 'text:255',
      salespersonCode: 'code:20',
      '!balanceDue': 'dec',
      creditLimit: 'dec',
      taxLiable: 'bool',
      taxAreaId: 'guid',
      '!taxAreaDisplayName': 'text:100',
      taxRegistrationNumber: 'text:20',
      currencyId: 'guid',
      currencyCode: 'code:10',
      paymentTermsId: 'guid',
      shipmentMethodId: 'guid',
      paymentMethodId: 'guid',
      blocked: 'enum: |Ship|Invoice|All',
      // Custom-page-only fields (Customer table fields without a v2.0 API field).
      paymentTermsCode: 'code:10',
      shipmentMethodCode: 'code:10',
      shippingAgentCode: 'code:10',
      primaryContactNumber: 'code:20',
      contactName: 'text:100',
      faxNumber: 'text:30',
      mobilePhoneNumber: 'text:30',
      customerPriceGroupCode: 'code:10',
    }),
  },
  {
    name: 'vendor',
    caption: 'Vendor',
    keyField: 'number',
    keyCaption: 'No.',
    numberSeries: 'V00010',
    fields: fields({
      number: 'code:20',
      displayName: 'text:100',
      ...address,
      phoneNumber: 'text:30',
      email: 'text:80',
      website: 'text:255',
      taxRegistrationNumber: 'text:20',
      currencyId: 'guid',
      currencyCode: 'code:10',
      irs1099Code: 'code:10',
      paymentTermsId: 'guid',
      paymentMethodId: 'guid',
      taxLiable: 'bool',
      blocked: 'enum: |Payment|All',
      '!balance': 'dec',
      purchaserCode: 'code:20',
      paymentTermsCode: 'code:10',
      shipmentMethodCode: 'code:10',
      shippingAgentCode: 'code:10',
      primaryContactNumber: 'code:20',
      contactName: 'text:100',
      faxNumber: 'text:30',
      mobilePhoneNumber: 'text:30',
    }),
  },
  {
    name: 'contact',
    caption: 'Contact',
    keyField: 'number',
    keyCaption: 'No.',
    numberSeries: 'CT000100',
    fields: fields({
      number: 'code:20',
      type: 'enum:Company|Person',
      displayName: 'text:100',
      jobTitle: 'text:30',
      companyNumber: 'code:20',
      '!companyName': 'text:100',
      '!contactBusinessRelation': 'enum:None|Customer|Vendor|Bank Account|Employee|Multiple',
      ...address,
      phoneNumber: 'text:30',
      mobilePhoneNumber: 'text:30',
      email: 'text:80',
      website: 'text:255',
      searchName: 'code:100',
      privacyBlocked: 'bool',
      taxRegistrationNumber: 'text:20',
      '!lastInteractionDate': 'date',
      firstName: 'text:30',
      middleName: 'text:30',
      surname: 'text:30',
      faxNumber: 'text:30',
      pager: 'text:30',
      salespersonCode: 'code:20',
      currencyCode: 'code:10',
      salutationCode: 'code:10',
    }),
  },
  {
    name: 'contactBusinessRelation',
    caption: 'Contact Business Relation',
    fields: fields({
      contactNumber: 'code:20',
      businessRelationCode: 'code:10',
      linkToTable: 'enum: |Customer|Vendor|Bank Account|Employee',
      linkNumber: 'code:20',
    }),
  },
  {
    name: 'item',
    caption: 'Item',
    keyField: 'number',
    keyCaption: 'No.',
    numberSeries: '1000',
    fields: fields({
      number: 'code:20',
      displayName: 'text:100',
      displayName2: 'text:50',
      type: 'enum:Inventory|Service|Non-Inventory',
      itemCategoryId: 'guid',
      itemCategoryCode: 'code:20',
      blocked: 'bool',
      gtin: 'code:14',
      '!inventory': 'dec',
      unitPrice: 'dec',
      priceIncludesTax: 'bool',
      unitCost: 'dec',
      taxGroupId: 'guid',
      taxGroupCode: 'code:20',
      baseUnitOfMeasureId: 'guid',
      baseUnitOfMeasureCode: 'code:10',
      generalProductPostingGroupId: 'guid',
      generalProductPostingGroupCode: 'code:20',
      inventoryPostingGroupId: 'guid',
      inventoryPostingGroupCode: 'code:20',
      unitVolume: 'dec',
      grossWeight: 'dec',
      vendorNumber: 'code:20',
      vendorItemNumber: 'text:50',
    }),
  },
  {
    name: 'currency',
    caption: 'Currency',
    keyField: 'code',
    keyCaption: 'Code',
    fields: fields({
      code: 'code:10',
      displayName: 'text:30',
      symbol: 'text:10',
      amountDecimalPlaces: 'text:5',
      amountRoundingPrecision: 'dec',
    }),
  },
  {
    name: 'currencyExchangeRate',
    caption: 'Currency Exchange Rate',
    fields: fields({
      currencyCode: 'code:10',
      startingDate: 'date',
      exchangeRateAmount: 'dec',
      relationalExchangeRateAmount: 'dec',
    }),
  },
  {
    name: 'unitOfMeasure',
    caption: 'Unit of Measure',
    keyField: 'code',
    keyCaption: 'Code',
    fields: fields({ code: 'code:10', displayName: 'text:50', internationalStandardCode: 'code:10', symbol: 'text:10' }),
  },
  {
    name: 'paymentTerms',
    caption: 'Payment Terms',
    keyField: 'code',
    keyCaption: 'Code',
    fields: fields({
      code: 'code:10',
      displayName: 'text:100',
      dueDateCalculation: 'text:32',
      discountDateCalculation: 'text:32',
      discountPercent: 'dec',
      calculateDiscountOnCreditMemos: 'bool',
    }),
  },
  {
    name: 'shipmentMethod',
    caption: 'Shipment Method',
    keyField: 'code',
    keyCaption: 'Code',
    fields: fields({ code: 'code:10', displayName: 'text:100' }),
  },
  {
    name: 'shippingAgent',
    caption: 'Shipping Agent',
    keyField: 'code',
    keyCaption: 'Code',
    fields: fields({ code: 'code:10', name: 'text:50', internetAddress: 'text:250', accountNumber: 'text:30' }),
  },
  {
    name: 'salesperson',
    caption: 'Salesperson/Purchaser',
    keyField: 'code',
    keyCaption: 'Code',
    fields: fields({
      code: 'code:20',
      displayName: 'text:50',
      email: 'text:80',
      email2: 'text:80',
      phoneNo: 'text:30',
      jobTitle: 'text:30',
      commisionPercent: 'dec',
      privacyBlocked: 'bool',
      blocked: 'bool',
    }),
  },
  {
    name: 'resource',
    caption: 'Resource',
    keyField: 'number',
    keyCaption: 'No.',
    numberSeries: 'R0010',
    fields: fields({
      number: 'code:20',
      name: 'text:100',
      type: 'enum:Person|Machine',
      baseUnitOfMeasureCode: 'code:10',
      unitPrice: 'dec',
      unitCost: 'dec',
      vendorNumber: 'code:20',
      '!capacity': 'dec',
      blocked: 'bool',
    }),
  },
  {
    name: 'customerPriceGroup',
    caption: 'Customer Price Group',
    keyField: 'code',
    keyCaption: 'Code',
    fields: fields({
      code: 'code:10',
      description: 'text:100',
      priceIncludesVat: 'bool',
      allowInvoiceDiscount: 'bool',
      allowLineDiscount: 'bool',
    }),
  },
  {
    name: 'salesPrice',
    caption: 'Sales Price',
    fields: fields({
      itemNumber: 'code:20',
      salesType: 'enum:Customer|Customer Price Group|All Customers|Campaign',
      salesCode: 'code:20',
      startingDate: 'date',
      endingDate: 'date',
      currencyCode: 'code:10',
      variantCode: 'code:10',
      unitOfMeasureCode: 'code:10',
      minimumQuantity: 'dec',
      unitPrice: 'dec',
      priceIncludesVat: 'bool',
    }),
  },
  {
    name: 'priceListHeader',
    caption: 'Price List Header',
    keyField: 'code',
    keyCaption: 'Code',
    numberSeries: 'S00001',
    fields: fields({
      code: 'code:20',
      description: 'text:250',
      sourceType: 'enum:All Customers|Customer|Customer Price Group|Customer Disc. Group|All Jobs|Job|Job Task|Campaign|Contact',
      sourceNumber: 'code:20',
      priceType: 'enum:Sale|Purchase|Any',
      amountType: 'enum:Price|Discount|Any',
      currencyCode: 'code:10',
      startingDate: 'date',
      endingDate: 'date',
      status: 'enum:Draft|Active|Inactive',
      allowUpdatingDefaults: 'bool',
    }),
  },
  {
    name: 'priceListLine',
    caption: 'Price List Line',
    fields: fields({
      priceListCode: 'code:20',
      lineNumber: 'int',
      sourceType: 'enum:All Customers|Customer|Customer Price Group|Customer Disc. Group|All Jobs|Job|Job Task|Campaign|Contact',
      sourceNumber: 'code:20',
      assetType: 'enum:Item|Item Discount Group|Resource|Resource Group|Service Cost|G/L Account',
      assetNumber: 'code:20',
      unitOfMeasureCode: 'code:10',
      currencyCode: 'code:10',
      minimumQuantity: 'dec',
      unitPrice: 'dec',
      startingDate: 'date',
      endingDate: 'date',
      priceType: 'enum:Sale|Purchase|Any',
      amountType: 'enum:Price|Discount|Any',
      status: 'enum:Draft|Active|Inactive',
    }),
  },
  {
    name: 'opportunity',
    caption: 'Opportunity',
    keyField: 'number',
    keyCaption: 'No.',
    numberSeries: 'OP000010',
    fields: fields({
      number: 'code:20',
      description: 'text:100',
      contactNumber: 'code:20',
      '!contactCompanyNumber': 'code:20',
      salespersonCode: 'code:20',
      status: 'enum:Not Started|In Progress|Won|Lost',
      estimatedValue: 'dec',
      estimatedClosingDate: 'date',
      dateClosed: 'date',
      probabilityPercent: 'dec',
      calculatedCurrentValue: 'dec',
      '!creationDate': 'date',
    }),
  },
  {
    name: 'unitGroup',
    caption: 'Unit Group',
    fields: fields({
      sourceType: 'enum:Item|Resource',
      sourceId: 'guid',
      sourceNumber: 'code:20',
      '!code': 'code:50',
      '!sourceName': 'text:100',
    }),
  },
  {
    name: 'itemUnitOfMeasure',
    caption: 'Item Unit of Measure',
    fields: fields({ itemNumber: 'code:20', code: 'code:10', qtyPerUnitOfMeasure: 'dec' }),
  },
  {
    name: 'resourceUnitOfMeasure',
    caption: 'Resource Unit of Measure',
    fields: fields({ resourceNumber: 'code:20', code: 'code:10', qtyPerUnitOfMeasure: 'dec' }),
  },
  {
    name: 'salesOrder',
    caption: 'Sales Header',
    keyField: 'number',
    keyCaption: 'No.',
    numberSeries: 'S-ORD101001',
    fields: fields({
      number: 'code:20',
      // Custom page only; the page is filtered to orders, so Order is the only value it shows.
      documentType: 'enum:Order|Quote|Invoice|Credit Memo|Blanket Order|Return Order',
      orderDate: 'date',
      ...documentHeader,
      partialShipping: 'bool',
      requestedDeliveryDate: 'date',
      '!fullyShipped': 'bool',
      '!status': 'enum:Draft|In Review|Open',
      paymentDiscountPercent: 'dec',
      '!lastShipmentDate': 'date',
      '!invoiceDiscountAmount': 'dec',
    }),
  },
  {
    name: 'salesOrderLine',
    caption: 'Sales Line',
    header: { table: 'salesOrder', foreignKey: 'documentId' },
    fields: fields({
      ...lineFields,
      // Custom page only: "Document Type", "Currency Code" (always the header's) and "Requested Delivery Date".
      documentType: 'enum:Order|Quote|Invoice|Credit Memo|Blanket Order|Return Order',
      '!currencyCode': 'code:10',
      requestedDeliveryDate: 'date',
      '!shippedQuantity': 'dec',
      '!invoicedQuantity': 'dec',
      invoiceQuantity: 'dec',
      shipQuantity: 'dec',
    }),
  },
  {
    name: 'salesInvoice',
    caption: 'Sales Invoice Header',
    keyField: 'number',
    keyCaption: 'No.',
    numberSeries: 'S-INV102001',
    fields: fields({
      number: 'code:20',
      invoiceDate: 'date',
      dueDate: 'date',
      promisedPayDate: 'date',
      customerPurchaseOrderReference: 'text:35',
      ...documentHeader,
      orderId: 'guid',
      orderNumber: 'code:20',
      disputeStatusId: 'guid',
      disputeStatus: 'code:10',
      '!remainingAmount': 'dec',
      '!status': 'enum: |Draft|In Review|Open|Paid|Canceled|Corrective',
      '!shipmentDate': 'date',
      '!invoiceDiscountAmount': 'dec',
      '!posted': 'bool',
    }),
  },
  {
    name: 'salesInvoiceLine',
    caption: 'Sales Invoice Line',
    header: { table: 'salesInvoice', foreignKey: 'documentId' },
    fields: fields(lineFields),
  },
];

export const tables: Map<TableName, TableDef> = new Map(
  rawTables.map((t) => [t.name, { ...t, fieldMap: new Map(t.fields.map((f) => [f.name, f])) }]),
);

export function table(name: TableName): TableDef {
  const t = tables.get(name);
  if (!t) throw new Error(`unknown table ${name}`);
  return t;
}

/** API route group: standard `v2.0` or our custom API `bcsync/integration/v1.0`. */
export type ApiGroup = 'v2.0' | 'bcsync/integration/v1.0';
export const CUSTOM_API: ApiGroup = 'bcsync/integration/v1.0';

export interface PageDef {
  group: ApiGroup;
  entitySet: string;
  /** OData entity type name, e.g. `customer` (errors say `Microsoft.NAV.customer`). */
  entityType: string;
  table: TableName;
  fields: FieldDef[];
  fieldMap: Map<string, FieldDef>;
  /** Webhook support per api-contracts.md D.3; `optional` follows the `webhookContactsAndSalespeople` setting. */
  webhooks: boolean | 'optional';
  /** Collection navigation to a line page (`salesOrderLines`) keyed by the line's `documentId`. */
  lines?: { property: string; entitySet: string };
  /** Single-valued navigations: property → [page entity set, field on this record holding the target id]. */
  navigations?: Record<string, [string, string]>;
  /** Page-level SourceTableView filter (e.g. posted invoices only). */
  view?: (row: Record<string, unknown>) => boolean;
  insertAllowed?: boolean;
  modifyAllowed?: boolean;
  deleteAllowed?: boolean;
}

const v2Fields: Partial<Record<TableName, string[]>> = {
  customer: [
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
  vendor: [
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
  contact: [
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
  item: [
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
};

const customOnlyHeaderFields = new Set([
  'shippingAgentCode',
  'shipmentMethodCode',
  'paymentTermsCode',
  'yourReference',
  'workDescription',
  'paymentDiscountPercent',
  'lastShipmentDate',
  'invoiceDiscountAmount',
  'shipmentDate',
  'posted',
  'documentType',
]);

function pageFields(t: TableDef, names?: string[]): FieldDef[] {
  if (!names) return t.fields;
  return names.map((n) => {
    const f = t.fieldMap.get(n);
    if (!f) throw new Error(`${t.name} has no field ${n}`);
    return f;
  });
}

function page(p: Omit<PageDef, 'fields' | 'fieldMap'> & { only?: string[]; exclude?: Set<string> }): PageDef {
  const t = table(p.table);
  let fs = pageFields(t, p.only);
  if (p.exclude) fs = fs.filter((f) => !p.exclude?.has(f.name));
  const { only: _o, exclude: _e, ...rest } = p;
  return { ...rest, fields: fs, fieldMap: new Map(fs.map((f) => [f.name, f])) };
}

const V2: ApiGroup = 'v2.0';

/** Simulator table holding each AL source table of the extension's pages. */
const TABLE_OF_AL: Record<string, TableName> = {
  Customer: 'customer',
  Vendor: 'vendor',
  Contact: 'contact',
  'Contact Business Relation': 'contactBusinessRelation',
  Item: 'item',
  Resource: 'resource',
  'Shipping Agent': 'shippingAgent',
  'Customer Price Group': 'customerPriceGroup',
  'Unit Group': 'unitGroup',
  'Item Unit of Measure': 'itemUnitOfMeasure',
  'Resource Unit of Measure': 'resourceUnitOfMeasure',
  'Sales Price': 'salesPrice',
  'Price List Header': 'priceListHeader',
  'Price List Line': 'priceListLine',
  Opportunity: 'opportunity',
  'Salesperson/Purchaser': 'salesperson',
  'Sales Header': 'salesOrder',
  'Sales Line': 'salesOrderLine',
  // Posted invoices are the Posted = true rows of the aggregate the v2.0 salesInvoices page shows.
  'Sales Invoice Entity Aggregate': 'salesInvoice',
  'Sales Invoice Line': 'salesInvoiceLine',
};

/** SourceTableView filters the extension uses, as predicates over the simulator's rows. */
const VIEWS: Record<string, (row: Record<string, unknown>) => boolean> = {
  'where("Document Type" = const(Order))': (r) => r.documentType === undefined || r.documentType === 'Order',
  'where(Posted = const(true))': (r) => r.posted === true,
};

/** Whether an AL type (`Code[20]`, `Text`, `Enum "X"`) describes values the simulator's field type holds. */
export function alTypeFits(alType: string, t: FieldType): boolean {
  const m = /^(\w+)(?:\[(\d+)\])?/.exec(alType);
  const kind = m?.[1]?.toLowerCase();
  const len = m?.[2] === undefined ? undefined : Number(m[2]);
  switch (kind) {
    case 'code':
      return t.kind === 'code' && t.max === len;
    case 'text':
      return t.kind === 'text' && (len === undefined || t.max === len);
    case 'decimal':
      return t.kind === 'decimal';
    case 'integer':
      return t.kind === 'int';
    case 'boolean':
      return t.kind === 'bool';
    case 'date':
      return t.kind === 'date';
    case 'datetime':
      return t.kind === 'datetime';
    case 'guid':
      return t.kind === 'guid';
    case 'enum':
    case 'option':
      return t.kind === 'enum';
    default:
      return false;
  }
}

/**
 * The custom API pages, field for field from the manifest: a field or entity set the AL does not declare is not
 * served, and a declared field the simulator cannot hold with the AL's type stops the simulator at start.
 */
export function customPages(manifest: BcExtensionManifest): PageDef[] {
  return Object.entries(manifest.entitySets).map(([entitySet, p]) => {
    const name = TABLE_OF_AL[p.table];
    if (!name) throw new Error(`BC simulator: no table for "${p.table}" (custom page ${entitySet})`);
    const t = table(name);
    const fs = p.fields.map((f): FieldDef => {
      const held = t.fieldMap.get(f.name);
      if (!held)
        throw new Error(
          `BC simulator: custom page ${entitySet} declares ${f.name} (${f.alField ?? 'page variable'}), which table ${name} does not hold`,
        );
      if (!alTypeFits(f.type, held.type))
        throw new Error(`BC simulator: ${entitySet}.${f.name} is ${f.type} in the AL but ${JSON.stringify(held.type)} in table ${name}`);
      return { ...held, readOnly: !f.editable };
    });
    const view = p.view === undefined ? undefined : VIEWS[p.view];
    if (p.view !== undefined && !view)
      throw new Error(`BC simulator: custom page ${entitySet} has SourceTableView ${p.view}, which the simulator does not implement`);
    const [lines] = Object.entries(p.parts);
    return {
      group: CUSTOM_API,
      entitySet,
      entityType: p.entityName,
      table: name,
      fields: fs,
      fieldMap: new Map(fs.map((f) => [f.name, f])),
      // Every page of the extension is over a normal table with a single key: webhook-capable.
      webhooks: true,
      ...(lines ? { lines: { property: lines[0], entitySet: lines[1] } } : {}),
      ...(view ? { view } : {}),
      insertAllowed: p.insertAllowed,
      modifyAllowed: p.modifyAllowed,
      deleteAllowed: p.deleteAllowed,
    };
  });
}

export const pages: PageDef[] = [
  page({
    group: V2,
    entitySet: 'customers',
    entityType: 'customer',
    table: 'customer',
    only: v2Fields.customer,
    webhooks: true,
    navigations: {
      currency: ['currencies', 'currencyId'],
      paymentTerm: ['paymentTerms', 'paymentTermsId'],
      shipmentMethod: ['shipmentMethods', 'shipmentMethodId'],
    },
  }),
  page({ group: V2, entitySet: 'vendors', entityType: 'vendor', table: 'vendor', only: v2Fields.vendor, webhooks: true }),
  page({
    group: V2,
    entitySet: 'contacts',
    entityType: 'contact',
    table: 'contact',
    only: v2Fields.contact,
    webhooks: 'optional',
  }),
  page({ group: V2, entitySet: 'items', entityType: 'item', table: 'item', only: v2Fields.item, webhooks: true }),
  page({ group: V2, entitySet: 'currencies', entityType: 'currency', table: 'currency', webhooks: true }),
  // APIV2 page 30085 "APIV2- Currency Exchange Rates": read-only (InsertAllowed/ModifyAllowed/DeleteAllowed = false).
  page({
    group: V2,
    entitySet: 'currencyExchangeRates',
    entityType: 'currencyExchangeRate',
    table: 'currencyExchangeRate',
    webhooks: false,
    insertAllowed: false,
    modifyAllowed: false,
    deleteAllowed: false,
  }),
  page({ group: V2, entitySet: 'unitsOfMeasure', entityType: 'unitOfMeasure', table: 'unitOfMeasure', webhooks: true }),
  page({ group: V2, entitySet: 'paymentTerms', entityType: 'paymentTerm', table: 'paymentTerms', webhooks: true }),
  page({
    group: V2,
    entitySet: 'shipmentMethods',
    entityType: 'shipmentMethod',
    table: 'shipmentMethod',
    webhooks: true,
  }),
  page({
    group: V2,
    entitySet: 'salespeoplePurchasers',
    entityType: 'salespersonPurchaser',
    table: 'salesperson',
    webhooks: 'optional',
  }),
  page({
    group: V2,
    entitySet: 'salesOrders',
    entityType: 'salesOrder',
    table: 'salesOrder',
    exclude: customOnlyHeaderFields,
    webhooks: true,
    lines: { property: 'salesOrderLines', entitySet: 'salesOrderLines' },
    navigations: { customer: ['customers', 'customerId'], currency: ['currencies', 'currencyId'] },
  }),
  page({
    group: V2,
    entitySet: 'salesOrderLines',
    entityType: 'salesOrderLine',
    table: 'salesOrderLine',
    exclude: customOnlyOrderLineFields,
    webhooks: false,
  }),
  page({
    group: V2,
    entitySet: 'salesInvoices',
    entityType: 'salesInvoice',
    table: 'salesInvoice',
    exclude: customOnlyHeaderFields,
    webhooks: true,
    lines: { property: 'salesInvoiceLines', entitySet: 'salesInvoiceLines' },
    navigations: { customer: ['customers', 'customerId'], currency: ['currencies', 'currencyId'] },
  }),
  page({
    group: V2,
    entitySet: 'salesInvoiceLines',
    entityType: 'salesInvoiceLine',
    table: 'salesInvoiceLine',
    webhooks: false,
  }),
  // Custom API pages: generated from the extension's AL (bc-extension/src → shared/bc-extension/manifest.json).
  ...customPages(BC_EXTENSION_MANIFEST),
];

const pageIndex = new Map(pages.map((p) => [`${p.group}/${p.entitySet}`, p]));

/** Whether the environment publishes `page`: standard pages always, custom pages only with the extension (and its version) installed. */
export function pageServed(ext: { installed: boolean; missingEntitySets: string[] }, page: PageDef): boolean {
  return page.group !== CUSTOM_API || (ext.installed && !ext.missingEntitySets.includes(page.entitySet));
}

export function findPage(group: ApiGroup, entitySet: string): PageDef | undefined {
  return pageIndex.get(`${group}/${entitySet}`);
}
