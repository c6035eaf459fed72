/**
 * BC's option mappings (table "CRM Option Mapping"): BC code tables coupled to the options of account's local
 * option sets (`account_paymenttermscode`, `account_address1_freighttermscode`, `account_address1_shippingmethodcode`).
 * Out-of-the-box option values are enums 5334/5335/5336 (bc-integration-reference.md 2.6).
 */

export interface OptionSetValue {
  value: number;
  /** Enum value name in BC (e.g. `Net30`). */
  name: string;
  /** Dataverse label (e.g. `Net 30`). */
  label: string;
}

export interface OptionSetDefinition {
  /** Option mapping name. */
  mapping: 'PAYMENT TERMS' | 'SHIPMENT METHOD' | 'SHIPPING AGENT';
  /** Column on `account` that the mapping couples to. */
  accountColumn: string;
  /**
   * The documents' columns that take the same values. Each is a local option set of its own (`salesorder_paymenttermscode`,
   * `invoice_shippingmethodcode`…, GlobalChoiceName in the entity references), so a new option is inserted into
   * each with the account option's value (BC: InsertOptionSetMetadataWithOptionValue).
   */
  documentColumns: ReadonlyArray<{ entityLogicalName: 'salesorder' | 'quote' | 'invoice'; column: string }>;
  outOfTheBoxOptions: readonly OptionSetValue[];
}

const documents = (column: string) =>
  (['salesorder', 'quote', 'invoice'] as const).map((entityLogicalName) => ({ entityLogicalName, column }));

export const OPTION_SETS: Readonly<Record<OptionSetDefinition['mapping'], OptionSetDefinition>> = {
  'PAYMENT TERMS': {
    mapping: 'PAYMENT TERMS',
    accountColumn: 'paymenttermscode',
    documentColumns: documents('paymenttermscode'),
    outOfTheBoxOptions: [
      { value: 1, name: 'Net30', label: 'Net 30' },
      { value: 2, name: '2%10Net30', label: '2% 10; Net 30' },
      { value: 3, name: 'Net45', label: 'Net 45' },
      { value: 4, name: 'Net60', label: 'Net 60' },
    ],
  },
  'SHIPMENT METHOD': {
    mapping: 'SHIPMENT METHOD',
    accountColumn: 'address1_freighttermscode',
    documentColumns: documents('freighttermscode'),
    outOfTheBoxOptions: [
      { value: 1, name: 'FOB', label: 'FOB' },
      { value: 2, name: 'NoCharge', label: 'No Charge' },
    ],
  },
  'SHIPPING AGENT': {
    mapping: 'SHIPPING AGENT',
    accountColumn: 'address1_shippingmethodcode',
    documentColumns: documents('shippingmethodcode'),
    outOfTheBoxOptions: [
      { value: 1, name: 'Airborne', label: 'Airborne' },
      { value: 2, name: 'DHL', label: 'DHL' },
      { value: 3, name: 'FedEx', label: 'FedEx' },
      { value: 4, name: 'UPS', label: 'UPS' },
      { value: 5, name: 'PostalMail', label: 'Postal Mail' },
      { value: 6, name: 'FullLoad', label: 'Full Load' },
      { value: 7, name: 'WillCall', label: 'Will Call' },
    ],
  },
};
