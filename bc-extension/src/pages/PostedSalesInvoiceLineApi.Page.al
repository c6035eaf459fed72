// API v2.0 salesInvoiceLines is built on a temporary buffer (no webhooks) and needs the invoice id in the URL.
// POSTEDSALESLINE-INV reads the posted lines of one invoice by documentId, the invoice's API id kept in
// "BCS Document Id".
page 50118 "BCS Posted Sales Inv. Line API"
{
    PageType = API;
    APIPublisher = 'bcsync';
    APIGroup = 'integration';
    APIVersion = 'v1.0';
    EntityName = 'postedSalesInvoiceLine';
    EntitySetName = 'postedSalesInvoiceLines';
    EntityCaption = 'Posted Sales Invoice Line';
    EntitySetCaption = 'Posted Sales Invoice Lines';
    SourceTable = "Sales Invoice Line";
    ODataKeyFields = SystemId;
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
                field(id; Rec.SystemId) { Caption = 'Id'; }
                field(documentId; Rec."BCS Document Id") { Caption = 'Document Id'; }
                field(sequence; Rec."Line No.") { Caption = 'Line No.'; }
                field(lineType; LineType) { Caption = 'Type'; }
                field(lineObjectNumber; Rec."No.") { Caption = 'No.'; }
                field(itemId; ItemId) { Caption = 'Item Id'; }
                field(description; Rec.Description) { Caption = 'Description'; }
                field(unitOfMeasureCode; Rec."Unit of Measure Code") { Caption = 'Unit of Measure Code'; }
                field(quantity; Rec.Quantity) { Caption = 'Quantity'; }
                field(unitPrice; Rec."Unit Price") { Caption = 'Unit Price'; }
                field(discountAmount; Rec."Line Discount Amount") { Caption = 'Line Discount Amount'; }
                field(amountExcludingTax; Rec.Amount) { Caption = 'Amount'; }
                field(amountIncludingTax; Rec."Amount Including VAT") { Caption = 'Amount Including VAT'; }
                field(lastModifiedDateTime; Rec.SystemModifiedAt) { Caption = 'Last Modified Date'; }
            }
        }
    }

    var
        IntegrationEvents: Codeunit "BCS Integration Events";
        LineType: Enum "BCS API Line Type";
        ItemId: Guid;

    trigger OnAfterGetRecord()
    var
        Item: Record Item;
    begin
        LineType := IntegrationEvents.ApiLineType(Rec.Type);
        Clear(ItemId);
        if (Rec.Type = Rec.Type::Item) and Item.Get(Rec."No.") then
            ItemId := Item.SystemId;
    end;
}
