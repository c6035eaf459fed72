import { BcError, dialog } from './errors';
import { detGuid } from './ids';
import { BLANK_DATE, BLANK_GUID, type TableDef, type TableName } from './schema';
import type { CompanyStore, Row, RuleContext } from './store';

/**
 * Table triggers and API page logic: lookups between codes and ids, derived names and amounts, and the
 * validation messages of the API v2 pages (api-contracts.md C.3). `before` is undefined on insert.
 */
export function applyRules(ctx: RuleContext, def: TableDef, data: Row, before: Row | undefined): void {
  const rule = rules[def.name];
  if (rule) rule(ctx, data, before);
}

/** Marketing Setup "Bus. Rel. Code for Customers" / "… for Vendors" as in CRONUS. */
const BUS_REL_CODE = { customer: 'CUST', vendor: 'VEN' } as const;

/** Records BC creates alongside a new one (base Item Unit of Measure, Unit Group, a customer's company contact). */
export function afterInsert(ctx: RuleContext, def: TableDef, data: Row): void {
  const { company, store, actor } = ctx;
  // CustCont-Update / VendCont-Update OnInsert (codeunits 5056 / 5057, called from Customer/Vendor OnInsert): with a
  // business relation code in Marketing Setup, a new customer or vendor gets a company contact linked to it. The demo
  // seed ('sim') writes its own company contacts, as a configuration package would.
  if ((def.name === 'customer' || def.name === 'vendor') && actor !== 'sim') {
    const contact = store.insert(
      company.id,
      'contact',
      {
        // Contact.TransferFields(Cust): the fields both tables share by number; Type := the customer's contact type.
        type: data.type === 'Person' ? 'Person' : 'Company',
        ...Object.fromEntries(
          ['displayName', 'addressLine1', 'addressLine2', 'city', 'state', 'country', 'postalCode', 'email', 'phoneNumber'].map((f) => [
            f,
            data[f] ?? '',
          ]),
        ),
        ...(def.name === 'customer' ? { salespersonCode: data.salespersonCode ?? '' } : {}),
      },
      actor,
    );
    store.insert(
      company.id,
      'contactBusinessRelation',
      {
        contactNumber: contact.data.number,
        businessRelationCode: BUS_REL_CODE[def.name],
        linkToTable: def.name === 'customer' ? 'Customer' : 'Vendor',
        linkNumber: data.number,
      },
      actor,
    );
  }
  if (def.name === 'item' || def.name === 'resource') {
    const isItem = def.name === 'item';
    const uom = data.baseUnitOfMeasureCode as string;
    const uomTable: TableName = isItem ? 'itemUnitOfMeasure' : 'resourceUnitOfMeasure';
    const ownerField = isItem ? 'itemNumber' : 'resourceNumber';
    if (uom !== '' && !findWhere(company, uomTable, (r) => r[ownerField] === data.number && r.code === uom)) {
      store.insert(
        company.id,
        uomTable,
        {
          id: detGuid(`${company.id}:${uomTable}:${data.number as string}:${uom}`),
          [ownerField]: data.number,
          code: uom,
          qtyPerUnitOfMeasure: 1,
        },
        actor,
      );
    }
    store.insert(
      company.id,
      'unitGroup',
      {
        id: detGuid(`${company.id}:unitGroup:${data.id as string}`),
        sourceType: isItem ? 'Item' : 'Resource',
        sourceId: data.id,
        sourceNumber: data.number,
      },
      actor,
    );
  }
}

function findWhere(company: CompanyStore, t: TableName, pred: (r: Row) => boolean): Row | undefined {
  for (const rec of company.table(t).byId.values()) if (pred(rec.data)) return rec.data;
  return undefined;
}

function changed(data: Row, before: Row | undefined, field: string, blank: unknown): boolean {
  return before ? data[field] !== before[field] : data[field] !== blank;
}

function relationError(field: string, tableCaption: string, value: string, related: string): BcError {
  return new BcError(
    400,
    'Internal_InvalidTableRelation',
    `The field ${field} of table ${tableCaption} contains a value (${value}) that cannot be found in the related table (${related}).`,
  );
}

/** Validates a code field against a table keyed by `code`/`number` (blank is always allowed). */
function requireCode(
  company: CompanyStore,
  data: Row,
  before: Row | undefined,
  field: string,
  target: TableName,
  fieldCaption: string,
  tableCaption: string,
  relatedCaption: string,
): void {
  if (!changed(data, before, field, '')) return;
  const v = data[field] as string;
  if (v !== '' && !company.byKey(target, v)) throw relationError(fieldCaption, tableCaption, v, relatedCaption);
}

/**
 * Keeps an `xxxId` GUID and its `xxxCode` in step, with the page's "does not match" messages. When the
 * id changed it wins; otherwise a changed code is resolved to its id.
 */
function linkIdAndCode(
  company: CompanyStore,
  data: Row,
  before: Row | undefined,
  idField: string,
  codeField: string,
  target: TableName,
  caption: string,
  lcy?: string,
): void {
  const idChanged = changed(data, before, idField, BLANK_GUID);
  const codeChanged = changed(data, before, codeField, lcy ?? '');
  if (idChanged) {
    const id = data[idField] as string;
    if (id === BLANK_GUID) {
      data[codeField] = lcy ?? '';
      return;
    }
    const rec = company.get(target, id);
    if (!rec) throw dialog(`The "${idField}" does not match to a ${caption}.`);
    data[codeField] = rec.data.code;
  } else if (codeChanged) {
    const code = data[codeField] as string;
    if (code === '' || (lcy !== undefined && code === lcy)) {
      data[idField] = BLANK_GUID;
      data[codeField] = lcy ?? '';
      return;
    }
    const rec = company.byKey(target, code);
    if (!rec) throw dialog(`The "${codeField}" does not match to a ${caption}.`);
    data[idField] = rec.data.id;
  }
}

function partyRules(caption: string, personField: string) {
  return (ctx: RuleContext, data: Row, before: Row | undefined): void => {
    const { company } = ctx;
    if (!before && (data.displayName as string).trim() === '') throw dialog('A "displayName" must be provided.');
    linkIdAndCode(company, data, before, 'currencyId', 'currencyCode', 'currency', 'Currency', company.lcyCode);
    linkIdAndCode(company, data, before, 'paymentTermsId', 'paymentTermsCode', 'paymentTerms', 'Payment Terms');
    if ('shipmentMethodId' in data)
      linkIdAndCode(company, data, before, 'shipmentMethodId', 'shipmentMethodCode', 'shipmentMethod', 'Shipment Method');
    requireCode(company, data, before, personField, 'salesperson', 'Salesperson Code', caption, 'Salesperson/Purchaser');
    requireCode(company, data, before, 'shippingAgentCode', 'shippingAgent', 'Shipping Agent Code', caption, 'Shipping Agent');
    requireCode(company, data, before, 'primaryContactNumber', 'contact', 'Primary Contact No.', caption, 'Contact');
    if ('customerPriceGroupCode' in data)
      requireCode(
        company,
        data,
        before,
        'customerPriceGroupCode',
        'customerPriceGroup',
        'Customer Price Group',
        caption,
        'Customer Price Group',
      );
  };
}

function today(ctx: RuleContext): string {
  return new Date(ctx.store.clock.now()).toISOString().slice(0, 10);
}

/** Date formulas like `30D`, `1M`, `2W`, `CM` (simplified BC CalcDate). */
function calcDate(formula: string, from: string): string {
  const d = new Date(`${from}T00:00:00Z`);
  const m = /^(\d+)([DWMY])$/i.exec(formula.trim());
  if (m) {
    const n = Number(m[1]);
    const unit = (m[2] as string).toUpperCase();
    if (unit === 'D') d.setUTCDate(d.getUTCDate() + n);
    if (unit === 'W') d.setUTCDate(d.getUTCDate() + 7 * n);
    if (unit === 'M') d.setUTCMonth(d.getUTCMonth() + n);
    if (unit === 'Y') d.setUTCFullYear(d.getUTCFullYear() + n);
  } else if (/^CM$/i.test(formula.trim())) {
    d.setUTCMonth(d.getUTCMonth() + 1, 0);
  }
  return d.toISOString().slice(0, 10);
}

const round2 = (n: number) => Math.round(n * 100) / 100;

function documentRules(kind: 'order' | 'invoice') {
  return (ctx: RuleContext, data: Row, before: Row | undefined): void => {
    const { company } = ctx;
    const custIdChanged = changed(data, before, 'customerId', BLANK_GUID);
    const custNoChanged = changed(data, before, 'customerNumber', '');
    if (!before && !custIdChanged && !custNoChanged) throw dialog('A customerNumber or a customerID must be provided.');
    let customer: Row | undefined;
    if (custIdChanged) {
      customer = company.get('customer', data.customerId as string)?.data;
      if (!customer) throw dialog('The "customerId" does not match to a Customer.');
    } else if (custNoChanged) {
      customer = company.byKey('customer', data.customerNumber as string)?.data;
      if (!customer) throw dialog('The "customerNumber" does not match to a Customer.');
    }
    if (customer) {
      // Validating Sell-to Customer No. copies the customer's defaults onto the document.
      data.customerId = customer.id;
      data.customerNumber = customer.number;
      data.customerName = customer.displayName;
      data.sellToAddressLine1 = customer.addressLine1;
      data.sellToAddressLine2 = customer.addressLine2;
      data.sellToCity = customer.city;
      data.sellToCountry = customer.country;
      data.sellToState = customer.state;
      data.sellToPostCode = customer.postalCode;
      data.phoneNumber = customer.phoneNumber;
      data.email = customer.email;
      if (!changed(data, before, 'billToCustomerId', BLANK_GUID) && !changed(data, before, 'billToCustomerNumber', '')) {
        data.billToCustomerId = customer.id;
        data.billToCustomerNumber = customer.number;
        data.billToName = customer.displayName;
        data.billToAddressLine1 = customer.addressLine1;
        data.billToAddressLine2 = customer.addressLine2;
        data.billToCity = customer.city;
        data.billToCountry = customer.country;
        data.billToState = customer.state;
        data.billToPostCode = customer.postalCode;
      }
      for (const [k, v] of [
        ['shipToName', customer.displayName],
        ['shipToAddressLine1', customer.addressLine1],
        ['shipToAddressLine2', customer.addressLine2],
        ['shipToCity', customer.city],
        ['shipToCountry', customer.country],
        ['shipToState', customer.state],
        ['shipToPostCode', customer.postalCode],
      ] as const) {
        if (!changed(data, before, k, '')) data[k] = v;
      }
      if (!changed(data, before, 'currencyCode', '') && !changed(data, before, 'currencyId', BLANK_GUID)) {
        data.currencyCode = customer.currencyCode;
        data.currencyId = customer.currencyId;
      }
      if (!changed(data, before, 'paymentTermsId', BLANK_GUID) && !changed(data, before, 'paymentTermsCode', '')) {
        data.paymentTermsId = customer.paymentTermsId;
        data.paymentTermsCode = customer.paymentTermsCode;
      }
      if (!changed(data, before, 'shipmentMethodId', BLANK_GUID) && !changed(data, before, 'shipmentMethodCode', '')) {
        data.shipmentMethodId = customer.shipmentMethodId;
        data.shipmentMethodCode = customer.shipmentMethodCode;
      }
      if (!changed(data, before, 'shippingAgentCode', '')) data.shippingAgentCode = customer.shippingAgentCode;
      if (!changed(data, before, 'salesperson', '')) data.salesperson = customer.salespersonCode;
    }
    if (data.currencyCode === '') data.currencyCode = company.lcyCode;
    linkIdAndCode(company, data, before, 'currencyId', 'currencyCode', 'currency', 'Currency', company.lcyCode);
    linkIdAndCode(company, data, before, 'paymentTermsId', 'paymentTermsCode', 'paymentTerms', 'Payment Terms');
    linkIdAndCode(company, data, before, 'shipmentMethodId', 'shipmentMethodCode', 'shipmentMethod', 'Shipment Method');
    requireCode(company, data, before, 'salesperson', 'salesperson', 'Salesperson Code', 'Sales Header', 'Salesperson/Purchaser');
    requireCode(company, data, before, 'shippingAgentCode', 'shippingAgent', 'Shipping Agent Code', 'Sales Header', 'Shipping Agent');
    if (!before) {
      if (data.postingDate === BLANK_DATE) data.postingDate = today(ctx);
      if (kind === 'order') {
        if (data.orderDate === BLANK_DATE) data.orderDate = today(ctx);
        data.status = 'Draft';
      } else {
        if (data.invoiceDate === BLANK_DATE) data.invoiceDate = today(ctx);
        if (data.status === ' ') data.status = 'Draft';
      }
    }
    if (kind === 'invoice' && data.dueDate === BLANK_DATE) {
      const terms = company.byKey('paymentTerms', data.paymentTermsCode as string);
      data.dueDate = terms ? calcDate(terms.data.dueDateCalculation as string, data.invoiceDate as string) : (data.invoiceDate as string);
    }
    if (kind === 'invoice' && data.posted !== true) data.remainingAmount = data.totalAmountIncludingTax;
  };
}

function lineRules(headerTable: TableName) {
  return (ctx: RuleContext, data: Row, before: Row | undefined): void => {
    const { company } = ctx;
    const header = company.get(headerTable, data.documentId as string);
    if (!header) throw dialog('The "documentId" does not match to a document.');
    if (!before && data.sequence === 0) {
      let max = 0;
      for (const l of company.table(headerTable === 'salesOrder' ? 'salesOrderLine' : 'salesInvoiceLine').byId.values())
        if (l.data.documentId === data.documentId) max = Math.max(max, l.data.sequence as number);
      data.sequence = max + 10000;
    }
    // Sales Line "Currency Code" always follows the header; "Requested Delivery Date" starts as the header's.
    if ('currencyCode' in data) data.currencyCode = header.data.currencyCode;
    if (!before && 'requestedDeliveryDate' in data && data.requestedDeliveryDate === BLANK_DATE)
      data.requestedDeliveryDate = header.data.requestedDeliveryDate ?? BLANK_DATE;
    const type = data.lineType as string;
    if (!before && type === 'Comment' && (changed(data, before, 'itemId', BLANK_GUID) || data.lineObjectNumber !== ''))
      data.lineType = 'Item';
    if (data.lineType === 'Item') {
      let item: Row | undefined;
      if (changed(data, before, 'itemId', BLANK_GUID)) {
        item = company.get('item', data.itemId as string)?.data;
        if (!item) throw dialog('The "itemId" does not match to an Item.');
      } else if (changed(data, before, 'lineObjectNumber', '')) {
        item = company.byKey('item', data.lineObjectNumber as string)?.data;
        if (!item) throw dialog('The "lineObjectNumber" does not match to an Item.');
      }
      if (item) {
        data.itemId = item.id;
        data.lineObjectNumber = item.number;
        if (!changed(data, before, 'description', '')) data.description = item.displayName;
        if (!changed(data, before, 'unitPrice', 0)) data.unitPrice = item.unitPrice;
        if (!changed(data, before, 'unitOfMeasureCode', '')) data.unitOfMeasureCode = item.baseUnitOfMeasureCode;
      }
    } else if (data.lineType === 'Resource' && changed(data, before, 'lineObjectNumber', '')) {
      const res = company.byKey('resource', data.lineObjectNumber as string)?.data;
      if (!res) throw dialog('The "lineObjectNumber" does not match to a Resource.');
      if (!changed(data, before, 'description', '')) data.description = res.name;
      if (!changed(data, before, 'unitPrice', 0)) data.unitPrice = res.unitPrice;
      if (!changed(data, before, 'unitOfMeasureCode', '')) data.unitOfMeasureCode = res.baseUnitOfMeasureCode;
    }
    const uom = company.byKey('unitOfMeasure', data.unitOfMeasureCode as string);
    data.unitOfMeasureId = uom ? uom.data.id : BLANK_GUID;
    const gross = (data.quantity as number) * (data.unitPrice as number);
    if (changed(data, before, 'discountPercent', 0)) data.discountAmount = round2((gross * (data.discountPercent as number)) / 100);
    const excl = round2(gross - (data.discountAmount as number));
    const tax = round2((excl * (data.taxPercent as number)) / 100);
    data.amountExcludingTax = excl;
    data.netAmount = excl;
    data.totalTaxAmount = tax;
    data.netTaxAmount = tax;
    data.amountIncludingTax = round2(excl + tax);
    data.netAmountIncludingTax = round2(excl + tax);
  };
}

function uomRules(ownerTable: 'item' | 'resource', ownerField: string, caption: string, uomTable: TableName) {
  return (ctx: RuleContext, data: Row, before: Row | undefined): void => {
    const { company } = ctx;
    const owner = data[ownerField] as string;
    if (!company.byKey(ownerTable, owner))
      throw relationError(ownerTable === 'item' ? 'Item No.' : 'Resource No.', caption, owner, ownerTable === 'item' ? 'Item' : 'Resource');
    requireCode(company, data, before, 'code', 'unitOfMeasure', 'Code', caption, 'Unit of Measure');
    if (!before && data.qtyPerUnitOfMeasure === 0) data.qtyPerUnitOfMeasure = 1;
    if ((data.qtyPerUnitOfMeasure as number) <= 0)
      throw new BcError(400, 'Application_FieldValidationException', 'Qty. per Unit of Measure must be greater than 0.');
    const dup = findWhere(company, uomTable, (r) => r.id !== data.id && r[ownerField] === owner && r.code === data.code);
    if (dup)
      throw new BcError(
        400,
        'Internal_EntityWithSameKeyExists',
        `The record in table ${caption} already exists. Identification fields and values: ${ownerTable === 'item' ? 'Item No.' : 'Resource No.'}='${owner}',Code='${data.code as string}'`,
      );
  };
}

const rules: Partial<Record<TableName, (ctx: RuleContext, data: Row, before: Row | undefined) => void>> = {
  customer: partyRules('Customer', 'salespersonCode'),
  vendor: partyRules('Vendor', 'purchaserCode'),
  contact(ctx, data, before) {
    const { company } = ctx;
    if (['firstName', 'middleName', 'surname'].some((f) => changed(data, before, f, '')) && !changed(data, before, 'displayName', '')) {
      data.displayName = [data.firstName, data.middleName, data.surname].filter((s) => s !== '').join(' ');
    }
    if (changed(data, before, 'displayName', '')) data.searchName = (data.displayName as string).toUpperCase().slice(0, 100);
    if (data.type === 'Company') {
      data.companyNumber = data.number;
      data.companyName = data.displayName;
    } else if (data.companyNumber !== '') {
      const co = company.byKey('contact', data.companyNumber as string);
      if (co?.data.type !== 'Company') throw relationError('Company No.', 'Contact', data.companyNumber as string, 'Contact');
      data.companyName = co.data.displayName;
      data.contactBusinessRelation = co.data.contactBusinessRelation;
    } else {
      data.companyName = '';
    }
    requireCode(company, data, before, 'salespersonCode', 'salesperson', 'Salesperson Code', 'Contact', 'Salesperson/Purchaser');
    if (data.currencyCode !== '' && !company.byKey('currency', data.currencyCode as string))
      throw relationError('Currency Code', 'Contact', data.currencyCode as string, 'Currency');
  },
  contactBusinessRelation(ctx, data) {
    const { company } = ctx;
    const contact = company.byKey('contact', data.contactNumber as string);
    if (!contact) throw relationError('Contact No.', 'Contact Business Relation', data.contactNumber as string, 'Contact');
    const linkTable: TableName | undefined =
      data.linkToTable === 'Customer' ? 'customer' : data.linkToTable === 'Vendor' ? 'vendor' : undefined;
    if (linkTable && !company.byKey(linkTable, data.linkNumber as string))
      throw relationError('No.', 'Contact Business Relation', data.linkNumber as string, data.linkToTable as string);
    if (linkTable) {
      // "Contact Business Relation" on Contact is a FlowField: it changes without modifying the contact.
      contact.data = { ...contact.data, contactBusinessRelation: data.linkToTable };
    }
  },
  item(ctx, data, before) {
    linkIdAndCode(ctx.company, data, before, 'baseUnitOfMeasureId', 'baseUnitOfMeasureCode', 'unitOfMeasure', 'Unit of Measure');
    requireCode(ctx.company, data, before, 'vendorNumber', 'vendor', 'Vendor No.', 'Item', 'Vendor');
  },
  resource(ctx, data, before) {
    if (!before && (data.name as string).trim() === '') throw dialog('A "name" must be provided.');
    requireCode(ctx.company, data, before, 'baseUnitOfMeasureCode', 'unitOfMeasure', 'Base Unit of Measure', 'Resource', 'Unit of Measure');
    requireCode(ctx.company, data, before, 'vendorNumber', 'vendor', 'Vendor No.', 'Resource', 'Vendor');
  },
  currency(_ctx, data, before) {
    if (!before) {
      if (data.amountDecimalPlaces === '') data.amountDecimalPlaces = '2:2';
      if (data.amountRoundingPrecision === 0) data.amountRoundingPrecision = 0.01;
    }
  },
  currencyExchangeRate(ctx, data) {
    if (!ctx.company.byKey('currency', data.currencyCode as string))
      throw relationError('Currency Code', 'Currency Exchange Rate', data.currencyCode as string, 'Currency');
  },
  unitGroup(ctx, data) {
    const isItem = data.sourceType === 'Item';
    const src = isItem ? 'item' : 'resource';
    const rec =
      data.sourceId !== BLANK_GUID ? ctx.company.get(src, data.sourceId as string) : ctx.company.byKey(src, data.sourceNumber as string);
    if (!rec && data.sourceId !== BLANK_GUID && data.sourceNumber === '') {
      // The owner is being inserted in this same transaction (afterInsert runs before it is visible).
    } else if (!rec) {
      throw relationError('Source No.', 'Unit Group', data.sourceNumber as string, isItem ? 'Item' : 'Resource');
    } else {
      data.sourceId = rec.data.id;
      data.sourceNumber = rec.data.number;
      data.sourceName = isItem ? rec.data.displayName : rec.data.name;
    }
    data.code = `${isItem ? 'ITEM' : 'RESOURCE'} ${data.sourceNumber as string} UOM GR`;
  },
  itemUnitOfMeasure: uomRules('item', 'itemNumber', 'Item Unit of Measure', 'itemUnitOfMeasure'),
  resourceUnitOfMeasure: uomRules('resource', 'resourceNumber', 'Resource Unit of Measure', 'resourceUnitOfMeasure'),
  salesPrice(ctx, data, before) {
    const { company } = ctx;
    requireCode(company, data, before, 'itemNumber', 'item', 'Item No.', 'Sales Price', 'Item');
    if (data.salesType === 'Customer Price Group')
      requireCode(company, data, before, 'salesCode', 'customerPriceGroup', 'Sales Code', 'Sales Price', 'Customer Price Group');
    if (data.salesType === 'Customer') requireCode(company, data, before, 'salesCode', 'customer', 'Sales Code', 'Sales Price', 'Customer');
    requireCode(company, data, before, 'currencyCode', 'currency', 'Currency Code', 'Sales Price', 'Currency');
  },
  priceListHeader(ctx, data, before) {
    const { company } = ctx;
    requireCode(company, data, before, 'currencyCode', 'currency', 'Currency Code', 'Price List Header', 'Currency');
    if (data.sourceType === 'Customer Price Group')
      requireCode(company, data, before, 'sourceNumber', 'customerPriceGroup', 'Source No.', 'Price List Header', 'Customer Price Group');
  },
  priceListLine(ctx, data, before) {
    const { company } = ctx;
    const header = company.byKey('priceListHeader', data.priceListCode as string);
    if (!header) throw relationError('Price List Code', 'Price List Line', data.priceListCode as string, 'Price List Header');
    if (!before) {
      for (const f of ['sourceType', 'sourceNumber', 'priceType', 'amountType', 'currencyCode', 'startingDate', 'endingDate', 'status']) {
        if (
          data[f] === '' ||
          data[f] === BLANK_DATE ||
          data[f] === 'All Customers' ||
          data[f] === 'Sale' ||
          data[f] === 'Price' ||
          data[f] === 'Draft'
        )
          data[f] = header.data[f];
      }
      if (data.lineNumber === 0) {
        let max = 0;
        for (const l of company.table('priceListLine').byId.values())
          if (l.data.priceListCode === data.priceListCode) max = Math.max(max, l.data.lineNumber as number);
        data.lineNumber = max + 10000;
      }
    }
    if (data.assetType === 'Item') {
      const item = company.byKey('item', data.assetNumber as string);
      if (!item) throw relationError('Asset No.', 'Price List Line', data.assetNumber as string, 'Item');
      if (data.unitOfMeasureCode === '') data.unitOfMeasureCode = item.data.baseUnitOfMeasureCode;
    } else if (data.assetType === 'Resource') {
      const res = company.byKey('resource', data.assetNumber as string);
      if (!res) throw relationError('Asset No.', 'Price List Line', data.assetNumber as string, 'Resource');
      if (data.unitOfMeasureCode === '') data.unitOfMeasureCode = res.data.baseUnitOfMeasureCode;
    }
  },
  opportunity(ctx, data, before) {
    const { company } = ctx;
    if (changed(data, before, 'contactNumber', '') || !before) {
      const c = company.byKey('contact', data.contactNumber as string);
      if (data.contactNumber !== '' && !c) throw relationError('Contact No.', 'Opportunity', data.contactNumber as string, 'Contact');
      data.contactCompanyNumber = c ? c.data.companyNumber : '';
    }
    requireCode(company, data, before, 'salespersonCode', 'salesperson', 'Salesperson Code', 'Opportunity', 'Salesperson/Purchaser');
    if (!before) data.creationDate = today(ctx);
  },
  salesOrder: documentRules('order'),
  salesInvoice: documentRules('invoice'),
  salesOrderLine: lineRules('salesOrder'),
  salesInvoiceLine: lineRules('salesInvoice'),
};
