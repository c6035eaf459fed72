// API v2.0 salesInvoices mixes drafts with posted invoices and lacks Your Reference, Shipment Date, Shipping Agent
// Code and Work Description. This page reads the same "Sales Invoice Entity Aggregate" rows (Posted = true), so
// its id is the v2.0 invoice id - the draft's SystemId for an invoice posted from a draft - and a salesInvoices
// webhook notification can be read here. That table's key is Id, not SystemId, hence ODataKeyFields = Id.
page 50117 "BCS Posted Sales Invoice API"
{
    PageType = API;
    APIPublisher = 'bcsync';
    APIGroup = 'integration';
    APIVersion = 'v1.0';
    EntityName = 'postedSalesInvoice';
    EntitySetName = 'postedSalesInvoices';
    EntityCaption = 'Posted Sales Invoice';
    EntitySetCaption = 'Posted Sales Invoices';
    SourceTable = "Sales Invoice Entity Aggregate";
    SourceTableView = where(Posted = const(true));
    ODataKeyFields = Id;
    Editable = false;
    InsertAllowed = false;
    ModifyAllowed = false;
    DeleteAllowed = false;
    Extensible = false;

    layout
    {
        area(Content)
        {
            repeater(Records)
            {
                field(id; Rec.Id) { Caption = 'Id'; }
                field(number; Rec."No.") { Caption = 'No.'; }
                field(customerNumber; Rec."Sell-to Customer No.") { Caption = 'Sell-to Customer No.'; }
                field(yourReference; Rec."Your Reference") { Caption = 'Your Reference'; }
                field(orderId; Rec."Order Id") { Caption = 'Order Id'; }
                field(orderNumber; Rec."Order No.") { Caption = 'Order No.'; }
                field(currencyCode; Rec."Currency Code") { Caption = 'Currency Code'; }
                field(dueDate; Rec."Due Date") { Caption = 'Due Date'; }
                field(salesperson; Rec."Salesperson Code") { Caption = 'Salesperson Code'; }
                field(billToName; Rec."Bill-to Name") { Caption = 'Bill-to Name'; }
                field(billToAddressLine1; Rec."Bill-to Address") { Caption = 'Bill-to Address'; }
                field(billToAddressLine2; Rec."Bill-to Address 2") { Caption = 'Bill-to Address 2'; }
                field(billToCity; Rec."Bill-to City") { Caption = 'Bill-to City'; }
                field(billToCountry; Rec."Bill-to Country/Region Code") { Caption = 'Bill-to Country/Region Code'; }
                field(billToState; Rec."Bill-to County") { Caption = 'Bill-to County'; }
                field(billToPostCode; Rec."Bill-to Post Code") { Caption = 'Bill-to Post Code'; }
                field(shipToName; Rec."Ship-to Name") { Caption = 'Ship-to Name'; }
                field(shipToAddressLine1; Rec."Ship-to Address") { Caption = 'Ship-to Address'; }
                field(shipToAddressLine2; Rec."Ship-to Address 2") { Caption = 'Ship-to Address 2'; }
                field(shipToCity; Rec."Ship-to City") { Caption = 'Ship-to City'; }
                field(shipToCountry; Rec."Ship-to Country/Region Code") { Caption = 'Ship-to Country/Region Code'; }
                field(shipToState; Rec."Ship-to County") { Caption = 'Ship-to County'; }
                field(shipToPostCode; Rec."Ship-to Post Code") { Caption = 'Ship-to Post Code'; }
                field(paymentTermsId; Rec."Payment Terms Id") { Caption = 'Payment Terms Id'; }
                field(discountAmount; Rec."Invoice Discount Amount") { Caption = 'Invoice Discount Amount'; }
                field(totalAmountExcludingTax; Rec.Amount) { Caption = 'Amount'; }
                field(totalAmountIncludingTax; Rec."Amount Including VAT") { Caption = 'Amount Including VAT'; }
                field(status; Rec.Status) { Caption = 'Status'; }
                // Kept on the posted Sales Invoice Header only.
                field(shipmentDate; ShipmentDate) { Caption = 'Shipment Date'; }
                field(shippingAgentCode; ShippingAgentCode) { Caption = 'Shipping Agent Code'; }
                field(workDescription; WorkDescription) { Caption = 'Work Description'; }
                field(lastModifiedDateTime; Rec."Last Modified Date Time") { Caption = 'Last Modified Date'; }
            }
        }
    }

    var
        ShipmentDate: Date;
        ShippingAgentCode: Code[10];
        WorkDescription: Text;

    trigger OnAfterGetRecord()
    var
        SalesInvoiceHeader: Record "Sales Invoice Header";
    begin
        Clear(ShipmentDate);
        Clear(ShippingAgentCode);
        Clear(WorkDescription);
        if not SalesInvoiceHeader.Get(Rec."No.") then
            exit;
        ShipmentDate := SalesInvoiceHeader."Shipment Date";
        ShippingAgentCode := SalesInvoiceHeader."Shipping Agent Code";
        WorkDescription := SalesInvoiceHeader.GetWorkDescription();
    end;
}
