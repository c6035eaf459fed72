// API v2.0 has no price list pages; PLLINE-PRODPRICE (new pricing experience) reads the lines.
page 50113 "BCS Price List Line API"
{
    PageType = API;
    APIPublisher = 'bcsync';
    APIGroup = 'integration';
    APIVersion = 'v1.0';
    EntityName = 'priceListLine';
    EntitySetName = 'priceListLines';
    EntityCaption = 'Price List Line';
    EntitySetCaption = 'Price List Lines';
    SourceTable = "Price List Line";
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
                field(priceListCode; Rec."Price List Code") { Caption = 'Price List Code'; }
                field(lineNumber; Rec."Line No.") { Caption = 'Line No.'; }
                field(sourceType; Rec."Source Type") { Caption = 'Source Type'; }
                field(sourceNumber; Rec."Source No.") { Caption = 'Source No.'; }
                field(assetType; Rec."Asset Type") { Caption = 'Asset Type'; }
                field(assetNumber; Rec."Asset No.") { Caption = 'Asset No.'; }
                field(unitOfMeasureCode; Rec."Unit of Measure Code") { Caption = 'Unit of Measure Code'; }
                field(currencyCode; Rec."Currency Code") { Caption = 'Currency Code'; }
                field(minimumQuantity; Rec."Minimum Quantity") { Caption = 'Minimum Quantity'; }
                field(unitPrice; Rec."Unit Price") { Caption = 'Unit Price'; }
                field(startingDate; Rec."Starting Date") { Caption = 'Starting Date'; }
                field(endingDate; Rec."Ending Date") { Caption = 'Ending Date'; }
                field(priceType; Rec."Price Type") { Caption = 'Price Type'; }
                field(amountType; Rec."Amount Type") { Caption = 'Amount Type'; }
                field(status; Rec.Status) { Caption = 'Status'; }
                field(lastModifiedDateTime; Rec.SystemModifiedAt) { Caption = 'Last Modified Date'; }
            }
        }
    }
}
