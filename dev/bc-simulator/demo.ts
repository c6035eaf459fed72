import { detGuid, seqGuid } from './ids';
import { defaultValue, type TableName, table } from './schema';
import type { Row, Store } from './store';

export const DEMO_COMPANY_NAME = 'CRONUS International Ltd.';
export const DEMO_COMPANY_ID = detGuid('bc-simulator:company:CRONUS International Ltd.');

/**
 * A CRONUS-like company. Every id is derived from the table and key, so tests and demos can hard-wire
 * them across runs. LCY is USD (blank currency code), as in CRONUS US; EUR, GBP and CAD are foreign.
 */
export function seedDemo(store: Store, companyId = DEMO_COMPANY_ID, companyName = DEMO_COMPANY_NAME): void {
  if (!store.companies.has(companyId)) store.addCompany(companyId, companyName);
  const ins = (t: TableName, key: string, values: Row): Row => {
    const rec = store.insert(companyId, t, { id: detGuid(`${companyId}:${t}:${key}`), ...values }, 'sim');
    return rec.data;
  };
  for (const [code, displayName, symbol, rate] of [
    ['EUR', 'Euro', '€', 0.92],
    ['GBP', 'Pound Sterling', '£', 0.79],
    ['CAD', 'Canadian dollar', '$', 1.36],
  ] as const) {
    ins('currency', code, { code, displayName, symbol });
    ins('currencyExchangeRate', code, {
      currencyCode: code,
      startingDate: '2024-01-01',
      exchangeRateAmount: rate,
      relationalExchangeRateAmount: 1,
    });
  }
  for (const [code, displayName, due, discDate, pct] of [
    ['10 DAYS', 'Net 10 days', '10D', '', 0],
    ['14 DAYS', 'Net 14 days', '14D', '', 0],
    ['30 DAYS', 'Net 30 days', '30D', '', 0],
    ['1M(8D)', '1 Month/2% 8 days', '1M', '8D', 2],
    ['CM', 'Current Month', 'CM', '', 0],
    ['COD', 'Cash on delivery', '0D', '', 0],
  ] as const) {
    ins('paymentTerms', code, { code, displayName, dueDateCalculation: due, discountDateCalculation: discDate, discountPercent: pct });
  }
  for (const [code, displayName] of [
    ['CIF', 'Cost Insurance and Freight'],
    ['EXW', 'Ex Warehouse'],
    ['FOB', 'Free on Board'],
    ['PICKUP', 'Pickup at Location'],
  ] as const) {
    ins('shipmentMethod', code, { code, displayName });
  }
  for (const [code, name, web] of [
    ['DHL', 'DHL Systems, Inc.', 'www.dhl.com'],
    ['FEDEX', 'Federal Express Corporation', 'www.fedex.com'],
    ['UPS', 'UPS', 'www.ups.com'],
    ['OWN LOG.', 'Own Logistics', ''],
  ] as const) {
    ins('shippingAgent', code, { code, name, internetAddress: web });
  }
  for (const [code, displayName, email, jobTitle] of [
    ['JO', 'Jim Olive', 'jim.olive@cronus-demosite.com', 'Sales Manager'],
    ['PS', 'Peter Saddow', 'peter.saddow@cronus-demosite.com', 'Sales Representative'],
    ['OF', 'Otis Falls', 'otis.falls@cronus-demosite.com', 'Sales Representative'],
    ['HR', 'Helen Ray', 'helen.ray@cronus-demosite.com', 'Purchasing Agent'],
  ] as const) {
    ins('salesperson', code, { code, displayName, email, jobTitle, commisionPercent: 5 });
  }
  for (const [code, displayName, iso] of [
    ['PCS', 'Piece', 'EA'],
    ['BOX', 'Box', 'BX'],
    ['SET', 'Set', 'SET'],
    ['HOUR', 'Hour', 'HUR'],
    ['DAY', 'Day', 'DAY'],
    ['KG', 'Kilogram', 'KGM'],
  ] as const) {
    ins('unitOfMeasure', code, { code, displayName, internationalStandardCode: iso, symbol: code.toLowerCase() });
  }
  ins('customerPriceGroup', 'RETAIL', {
    code: 'RETAIL',
    description: 'Retail customers',
    allowInvoiceDiscount: true,
    allowLineDiscount: true,
  });
  ins('customerPriceGroup', 'WHOLESALE', {
    code: 'WHOLESALE',
    description: 'Wholesale customers',
    allowInvoiceDiscount: true,
    allowLineDiscount: true,
  });

  for (const [no, name, addr, city, state, country, post, email, sp, cur, terms, ship, agent, group] of [
    [
      '10000',
      'Adatum Corporation',
      '192 Market Square',
      'Atlanta',
      'GA',
      'US',
      '31772',
      'robert.townes@contoso.com',
      'PS',
      '',
      '1M(8D)',
      'EXW',
      'DHL',
      'RETAIL',
    ],
    [
      '20000',
      'Trey Research',
      '153 Thomas Drive',
      'Chicago',
      'IL',
      'US',
      '61236',
      'helen.ray@contoso.com',
      'JO',
      '',
      '14 DAYS',
      'FOB',
      'UPS',
      'WHOLESALE',
    ],
    [
      '30000',
      'School of Fine Art',
      '10 High Tower Green',
      'Miami',
      'FL',
      'US',
      '37125',
      'meagan.bond@contoso.com',
      'OF',
      '',
      '1M(8D)',
      'CIF',
      'FEDEX',
      'RETAIL',
    ],
    [
      '40000',
      'Alpine Ski House',
      '10 Deerfield Road',
      'Munich',
      '',
      'DE',
      '80331',
      'ian.deberry@contoso.com',
      'JO',
      'EUR',
      '30 DAYS',
      'CIF',
      'DHL',
      'WHOLESALE',
    ],
    [
      '50000',
      'Relecloud',
      '25 Water Way',
      'London',
      '',
      'GB',
      'W2 8HG',
      'jesse.homer@contoso.com',
      'PS',
      'GBP',
      '30 DAYS',
      'EXW',
      'UPS',
      'RETAIL',
    ],
    [
      '60000',
      'Northwind Traders',
      '8 Maple Lane',
      'Toronto',
      'ON',
      'CA',
      'M5H 2N2',
      'lisa.taylor@contoso.com',
      'OF',
      'CAD',
      '14 DAYS',
      'PICKUP',
      'OWN LOG.',
      '',
    ],
  ] as const) {
    ins('customer', no, {
      number: no,
      displayName: name,
      type: 'Company',
      addressLine1: addr,
      city,
      state,
      country,
      postalCode: post,
      phoneNumber: '+1 404 555 0100',
      email,
      website: '',
      salespersonCode: sp,
      creditLimit: 10000,
      taxLiable: country === 'US',
      currencyCode: cur,
      paymentTermsCode: terms,
      shipmentMethodCode: ship,
      shippingAgentCode: agent,
      customerPriceGroupCode: group,
    });
  }
  for (const [no, name, city, country, cur] of [
    ['10000', 'Fabrikam, Inc.', 'Atlanta', 'US', ''],
    ['20000', 'First Up Consultants', 'Chicago', 'US', ''],
    ['30000', 'Graphic Design Institute', 'London', 'GB', 'GBP'],
  ] as const) {
    ins('vendor', no, {
      number: no,
      displayName: name,
      city,
      country,
      currencyCode: cur,
      paymentTermsCode: '30 DAYS',
      purchaserCode: 'HR',
    });
  }
  // Company contacts with a business relation to their customer, and people working there.
  const people: Record<string, Array<[string, string, string]>> = {
    '10000': [['Robert', 'Townes', 'Purchasing Manager']],
    '20000': [
      ['Helen', 'Ray', 'Buyer'],
      ['Mark', 'Hanson', 'Accountant'],
    ],
    '30000': [['Meagan', 'Bond', 'Director']],
    '40000': [['Ian', 'Deberry', 'Owner']],
    '50000': [['Jesse', 'Homer', 'Office Manager']],
    '60000': [['Lisa', 'Taylor', 'Buyer']],
  };
  let ct = 1;
  const ctNo = () => `CT${String(ct++).padStart(6, '0')}`;
  for (const cust of [...store.company(companyId).table('customer').sorted()].map((r) => r.data)) {
    const coNo = ctNo();
    ins('contact', coNo, {
      number: coNo,
      type: 'Company',
      displayName: cust.displayName,
      addressLine1: cust.addressLine1,
      city: cust.city,
      state: cust.state,
      country: cust.country,
      postalCode: cust.postalCode,
      salespersonCode: cust.salespersonCode,
    });
    ins('contactBusinessRelation', coNo, {
      contactNumber: coNo,
      businessRelationCode: 'CUST',
      linkToTable: 'Customer',
      linkNumber: cust.number,
    });
    let primary = '';
    for (const [first, last, job] of people[cust.number as string] ?? []) {
      const no = ctNo();
      primary ||= no;
      ins('contact', no, {
        number: no,
        type: 'Person',
        firstName: first,
        surname: last,
        jobTitle: job,
        companyNumber: coNo,
        email: `${first.toLowerCase()}.${last.toLowerCase()}@contoso.com`,
        city: cust.city,
        country: cust.country,
        salespersonCode: cust.salespersonCode,
      });
    }
    store.modify(companyId, 'customer', cust.id as string, { primaryContactNumber: primary, contactName: '' }, 'sim');
  }
  for (const [no, name, price, cost, inv, uom] of [
    ['1896-S', 'ATHENS Desk', 1000.8, 780.7, 12, 'PCS'],
    ['1900-S', 'PARIS Guest Chair, black', 192.8, 150.4, 40, 'PCS'],
    ['1906-S', 'ATHENS Mobile Pedestal', 281.4, 219.5, 9, 'PCS'],
    ['1908-S', 'LONDON Swivel Chair, blue', 190.1, 148.3, 25, 'PCS'],
    ['1920-S', 'ANTWERP Conference Table', 649.4, 506.6, 5, 'PCS'],
    ['1936-S', 'BERLIN Guest Chair, yellow', 192.8, 150.4, 30, 'PCS'],
    ['1960-S', 'ROME Guest Chair, green', 192.8, 150.4, 18, 'PCS'],
    ['1964-S', 'TOKYO Guest Chair, blue', 192.8, 150.4, 22, 'PCS'],
    ['1968-S', 'MEXICO Swivel Chair, black', 192.8, 150.4, 14, 'PCS'],
    ['2000-S', 'SYDNEY Swivel Chair, green', 192.8, 150.4, 0, 'PCS'],
    ['1928-S', 'AMSTERDAM Lamp', 54.9, 42.8, 60, 'BOX'],
  ] as const) {
    const item = ins('item', no, {
      number: no,
      displayName: name,
      type: 'Inventory',
      unitPrice: price,
      unitCost: cost,
      baseUnitOfMeasureCode: uom,
      itemCategoryCode: 'FURNITURE',
      grossWeight: 10,
      unitVolume: 0.5,
      vendorNumber: '10000',
    });
    store.setFlowField(companyId, 'item', item.id as string, 'inventory', inv);
  }
  // The write-in product (WRITE_IN_PRODUCT_NO, default WRITE-IN) that a Sales order's write-in line becomes, as BC's
  // "Dynamics 365 Sales Connection Setup" asks for one: the Dataverse demo's submitted order has such a line.
  ins('item', 'WRITE-IN', { number: 'WRITE-IN', displayName: 'Write-in product', type: 'Non-Inventory', baseUnitOfMeasureCode: 'PCS' });
  ins('itemUnitOfMeasure', '1900-S:BOX', { itemNumber: '1900-S', code: 'BOX', qtyPerUnitOfMeasure: 4 });
  ins('itemUnitOfMeasure', '1928-S:PCS', { itemNumber: '1928-S', code: 'PCS', qtyPerUnitOfMeasure: 0.25 });
  for (const [no, name, type, price, cost] of [
    ['KATHERINE', 'Katherine Hull', 'Person', 120, 80],
    ['MARK', 'Mark Hanson', 'Person', 110, 75],
    ['TERRY', 'Terry Adams', 'Person', 100, 70],
    ['LIFT', 'Lifting Machine', 'Machine', 90, 40],
    // The Dataverse demo's service product "Consulting Hours" (SVC-CONSULT): RESOURCE-PRODUCT couples it by
    // number. A resource created from a Sales product would have no base unit (BC maps the unit only to Sales),
    // and BC → Sales then refuses it, as it should.
    ['SVC-CONSULT', 'Consulting Hours', 'Person', 125, 85],
  ] as const) {
    const res = ins('resource', no, { number: no, name, type, baseUnitOfMeasureCode: 'HOUR', unitPrice: price, unitCost: cost });
    store.setFlowField(companyId, 'resource', res.id as string, 'capacity', 160);
  }
  // Old pricing (Sales Price) and new pricing (Price List Header/Line) both carry the same group prices.
  for (const [item, group, price] of [
    ['1896-S', 'RETAIL', 1000.8],
    ['1896-S', 'WHOLESALE', 900],
    ['1900-S', 'RETAIL', 192.8],
    ['1900-S', 'WHOLESALE', 170],
    ['1908-S', 'WHOLESALE', 170],
  ] as const) {
    ins('salesPrice', `${item}:${group}`, {
      itemNumber: item,
      salesType: 'Customer Price Group',
      salesCode: group,
      unitPrice: price,
      startingDate: '2024-01-01',
    });
  }
  ins('priceListHeader', 'S00001', {
    code: 'S00001',
    description: 'Retail prices',
    sourceType: 'Customer Price Group',
    sourceNumber: 'RETAIL',
    status: 'Active',
  });
  ins('priceListHeader', 'S00002', {
    code: 'S00002',
    description: 'Wholesale prices',
    sourceType: 'Customer Price Group',
    sourceNumber: 'WHOLESALE',
    status: 'Active',
  });
  ins('priceListHeader', 'S00003', {
    code: 'S00003',
    description: 'Euro prices',
    sourceType: 'All Customers',
    currencyCode: 'EUR',
    status: 'Active',
  });
  for (const [code, type, asset, price] of [
    ['S00001', 'Item', '1896-S', 1000.8],
    ['S00001', 'Item', '1900-S', 192.8],
    ['S00001', 'Resource', 'KATHERINE', 120],
    ['S00002', 'Item', '1896-S', 900],
    ['S00002', 'Item', '1900-S', 170],
    ['S00003', 'Item', '1896-S', 930],
  ] as const) {
    ins('priceListLine', `${code}:${asset}`, { priceListCode: code, assetType: type, assetNumber: asset, unitPrice: price });
  }
  ins('opportunity', 'OP000001', {
    number: 'OP000001',
    description: 'Furniture for new head office',
    contactNumber: 'CT000002',
    salespersonCode: 'PS',
    status: 'In Progress',
    estimatedValue: 25000,
    estimatedClosingDate: '2026-12-15',
    probabilityPercent: 60,
  });
  ins('opportunity', 'OP000002', {
    number: 'OP000002',
    description: 'Conference room chairs',
    contactNumber: 'CT000004',
    salespersonCode: 'JO',
    status: 'Not Started',
    estimatedValue: 8000,
    estimatedClosingDate: '2027-01-31',
  });
  const order = (no: string, customer: string, lines: Array<[string, number]>) => {
    const h = ins('salesOrder', no, { number: no, customerNumber: customer, externalDocumentNumber: `PO-${no}` });
    for (const [i, [item, qty]] of lines.entries()) {
      ins('salesOrderLine', `${no}:${i}`, { documentId: h.id, lineType: 'Item', lineObjectNumber: item, quantity: qty });
    }
  };
  order('S-ORD101001', '10000', [
    ['1896-S', 2],
    ['1900-S', 8],
  ]);
  order('S-ORD101002', '20000', [['1908-S', 4]]);
  order('S-ORD101003', '40000', [
    ['1920-S', 1],
    ['1936-S', 6],
  ]);
  const invoice = (no: string, customer: string, status: 'Open' | 'Paid', lines: Array<[string, number]>) => {
    const h = ins('salesInvoice', no, { number: no, customerNumber: customer, invoiceDate: '2026-01-15', postingDate: '2026-01-15' });
    for (const [i, [item, qty]] of lines.entries()) {
      ins('salesInvoiceLine', `${no}:${i}`, { documentId: h.id, lineType: 'Item', lineObjectNumber: item, quantity: qty });
    }
    const total = store.company(companyId).get('salesInvoice', h.id as string)?.data.totalAmountIncludingTax as number;
    store.modify(
      companyId,
      'salesInvoice',
      h.id as string,
      { posted: true, status, remainingAmount: status === 'Paid' ? 0 : total },
      'sim',
    );
  };
  invoice('103001', '10000', 'Paid', [
    ['1896-S', 1],
    ['1906-S', 1],
  ]);
  invoice('103002', '30000', 'Open', [['1900-S', 12]]);
  invoice('103003', '50000', 'Open', [
    ['1964-S', 3],
    ['1968-S', 3],
  ]);
}

/**
 * Bulk-generates customers/items for benchmarks without business rules or notifications (fast path).
 * Numbers continue after the existing generated ones, so repeated seeding appends.
 */
export function seedGenerated(
  store: Store,
  companyId: string,
  counts: { customers?: number; items?: number; contacts?: number },
): Record<string, number> {
  const company = store.company(companyId);
  const now = store.clock.nowIso();
  const out: Record<string, number> = {};
  const gen = (t: TableName, ns: number, prefix: string, n: number, fill: (i: number, row: Row) => void) => {
    const def = table(t);
    const template: Row = {};
    for (const f of def.fields) template[f.name] = defaultValue(f.type);
    // Object spread of ~45 fields per row drops V8 into slow dictionary objects (2.5 s per 100k rows); a literal
    // built once keeps one hidden class for every row.
    const make = new Function(
      't',
      `return {${def.fields.map((f) => `${JSON.stringify(f.name)}: t[${JSON.stringify(f.name)}]`).join(',')}};`,
    ) as (t: Row) => Row;
    const ts = company.table(t);
    const start = ts.generated;
    ts.generated += n;
    for (let i = start + 1; i <= start + n; i++) {
      const row = make(template);
      row.id = seqGuid(ns, i);
      row.number = `${prefix}${String(i).padStart(7, '0')}`;
      row.lastModifiedDateTime = now;
      fill(i, row);
      store.bulkInsert(companyId, t, row);
    }
    out[t] = n;
  };
  const cities = ['Atlanta', 'Chicago', 'Miami', 'Seattle', 'Boston', 'Denver', 'Austin', 'Portland'];
  const lcy = company.lcyCode;
  if (counts.customers)
    gen('customer', 0xc0570e5, 'GC', counts.customers, (i, r) => {
      r.displayName = `Generated Customer ${i}`;
      r.type = 'Company';
      r.addressLine1 = `${i} Main Street`;
      r.city = cities[i % cities.length];
      r.country = 'US';
      r.postalCode = String(10000 + (i % 89999));
      r.email = `customer${i}@example.com`;
      r.currencyCode = lcy;
      r.creditLimit = (i % 10) * 1000;
    });
  if (counts.items)
    gen('item', 0x17e05, 'GI', counts.items, (i, r) => {
      r.displayName = `Generated Item ${i}`;
      r.type = 'Inventory';
      r.unitPrice = (i % 500) + 0.99;
      r.unitCost = (i % 500) * 0.7;
      r.baseUnitOfMeasureCode = 'PCS';
      r.baseUnitOfMeasureId = company.byKey('unitOfMeasure', 'PCS')?.data.id ?? r.baseUnitOfMeasureId;
      r.inventory = i % 100;
    });
  if (counts.contacts)
    gen('contact', 0xc0a7ac7, 'GT', counts.contacts, (i, r) => {
      r.displayName = `Generated Contact ${i}`;
      r.searchName = `GENERATED CONTACT ${i}`;
      r.type = 'Person';
      r.firstName = 'Generated';
      r.surname = `Contact ${i}`;
      r.email = `contact${i}@example.com`;
    });
  return out;
}
