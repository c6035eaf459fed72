// API v2.0 salesOrderLines is built on a temporary buffer: no webhooks, no lastModifiedDateTime, and it refuses a
// listing without an order id. SOLINE-ORDERDETAIL needs a webhook-capable page over Sales Line itself, with
// documentId (the order's SystemId, in "BCS Document Id") and the v2.0 line type names (in "BCS API Line Type").
page 50116 "BCS Sales Order Line API"
{
    PageType = API;
    APIPublisher = 'bcsync';
    APIGroup = 'integration';
    APIVersion = 'v1.0';
    EntityName = 'salesOrderLine';
    EntitySetName = 'salesOrderLines';
    EntityCaption = 'Sales Order Line';
    EntitySetCaption = 'Sales Order Lines';
    SourceTable = "Sales Line";
    SourceTableView = where("Document Type" = const(Order));
    ODataKeyFields = SystemId;
    DelayedInsert = true;
    Extensible = false;

    layout
    {
        area(Content)
        {
            repeater(Records)
            {
                field(id; Rec.SystemId) { Caption = 'Id'; Editable = false; }
                field(documentId; Rec."BCS Document Id")
                {
                    Caption = 'Document Id';

                    trigger OnValidate()
                    var
                        SalesHeader: Record "Sales Header";
                    begin
                        SalesHeader.GetBySystemId(Rec."BCS Document Id");
                        SalesHeader.TestField("Document Type", SalesHeader."Document Type"::Order);
                        Rec."Document Type" := SalesHeader."Document Type";
                        Rec."Document No." := SalesHeader."No.";
                    end;
                }
                field(documentType; Rec."Document Type") { Caption = 'Document Type'; }
                field(sequence; Rec."Line No.") { Caption = 'Line No.'; }
                field(lineType; Rec."BCS API Line Type")
                {
                    Caption = 'Type';

                    trigger OnValidate()
                    begin
                        Rec.Validate(Type, IntegrationEvents.SalesLineType(Rec."BCS API Line Type"));
                    end;
                }
                field(lineObjectNumber; Rec."No.") { Caption = 'No.'; }
                field(description; Rec.Description) { Caption = 'Description'; }
                field(unitOfMeasureCode; Rec."Unit of Measure Code") { Caption = 'Unit of Measure Code'; }
                field(quantity; Rec.Quantity) { Caption = 'Quantity'; }
                field(unitPrice; Rec."Unit Price") { Caption = 'Unit Price'; }
                field(discountAmount; Rec."Line Discount Amount") { Caption = 'Line Discount Amount'; }
                field(requestedDeliveryDate; Rec."Requested Delivery Date") { Caption = 'Requested Delivery Date'; }
                field(amountExcludingTax; Rec.Amount) { Caption = 'Amount'; Editable = false; }
                field(amountIncludingTax; Rec."Amount Including VAT") { Caption = 'Amount Including VAT'; Editable = false; }
                field(shippedQuantity; Rec."Quantity Shipped") { Caption = 'Quantity Shipped'; Editable = false; }
                field(currencyCode; Rec."Currency Code") { Caption = 'Currency Code'; Editable = false; }
                field(lastModifiedDateTime; Rec.SystemModifiedAt) { Caption = 'Last Modified Date'; Editable = false; }
            }
        }
    }

    var
        IntegrationEvents: Codeunit "BCS Integration Events";

    trigger OnInsertRecord(BelowxRec: Boolean): Boolean
    var
        LastLine: Record "Sales Line";
    begin
        if Rec."Line No." = 0 then begin
            LastLine.SetRange("Document Type", Rec."Document Type");
            LastLine.SetRange("Document No.", Rec."Document No.");
            if LastLine.FindLast() then
                Rec."Line No." := LastLine."Line No." + 10000
            else
                Rec."Line No." := 10000;
        end;
    end;
}
