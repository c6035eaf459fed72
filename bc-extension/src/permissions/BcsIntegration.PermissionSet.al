// What the service's app registration needs on top of the base application's own checks: run the extension's
// pages and codeunits, read everything they show, and insert/modify exactly the tables the service writes
// (customers, vendors, contacts, items, resources, opportunities, salespeople, sales orders and their lines), and
// delete customers, vendors, contacts, items and resources for the PropagateDelete deletion policy.
// The base-application logic those writes run (number series, setup tables, release) is covered by the standard
// sets docs/bc-extension.md names; this set grants nothing beyond the pages' own needs.
permissionset 50100 "BCS INTEGRATION"
{
    Assignable = true;
    Caption = 'bc-dataverse-sync integration';

    Permissions =
        page "BCS Customer API" = X,
        page "BCS Vendor API" = X,
        page "BCS Contact API" = X,
        page "BCS Contact Bus. Relation API" = X,
        page "BCS Item API" = X,
        page "BCS Resource API" = X,
        page "BCS Shipping Agent API" = X,
        page "BCS Customer Price Group API" = X,
        page "BCS Unit Group API" = X,
        page "BCS Item Unit of Measure API" = X,
        page "BCS Resource Unit of Meas. API" = X,
        page "BCS Sales Price API" = X,
        page "BCS Price List Header API" = X,
        page "BCS Price List Line API" = X,
        page "BCS Opportunity API" = X,
        page "BCS Sales Order API" = X,
        page "BCS Sales Order Line API" = X,
        page "BCS Posted Sales Invoice API" = X,
        page "BCS Posted Sales Inv. Line API" = X,
        page "BCS Salesperson API" = X,
        codeunit "BCS Integration Events" = X,
        tabledata Customer = RIMD,
        tabledata Vendor = RIMD,
        tabledata Contact = RIMD,
        tabledata "Contact Business Relation" = R,
        tabledata Item = RIMD,
        tabledata Resource = RIMD,
        tabledata "Shipping Agent" = R,
        tabledata "Customer Price Group" = R,
        tabledata "Unit Group" = R,
        tabledata "Item Unit of Measure" = R,
        tabledata "Resource Unit of Measure" = R,
        tabledata "Sales Price" = R,
        tabledata "Price List Header" = R,
        tabledata "Price List Line" = R,
        tabledata Opportunity = RIM,
        tabledata "Salesperson/Purchaser" = RIM,
        tabledata "Payment Terms" = R,
        tabledata "Shipment Method" = R,
        tabledata "Sales Header" = RIM,
        tabledata "Sales Line" = RIMD,
        tabledata "Sales Invoice Entity Aggregate" = R,
        tabledata "Sales Invoice Header" = R,
        tabledata "Sales Invoice Line" = R;
}
