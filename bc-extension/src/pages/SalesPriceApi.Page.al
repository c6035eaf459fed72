// API v2.0 has no page over the legacy Sales Price table; SALESPRC-PRODPRICE (pricing experience off) reads it.
page 50111 "BCS Sales Price API"
{
    PageType = API;
    APIPublisher = 'bcsync';
    APIGroup = 'integration';
    APIVersion = 'v1.0';
    EntityName = 'salesPrice';
    EntitySetName = 'salesPrices';
    EntityCaption = 'Sales Price';
    EntitySetCaption = 'Sales Prices';
    SourceTable = "Sales Price";
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
                field(itemNumber; Rec."Item No.") { Caption = 'Item No.'; }
                field(salesType; Rec."Sales Type") { Caption = 'Sales Type'; }
                field(salesCode; Rec."Sales Code") { Caption = 'Sales Code'; }
                field(startingDate; Rec."Starting Date") { Caption = 'Starting Date'; }
                field(endingDate; Rec."Ending Date") { Caption = 'Ending Date'; }
                field(currencyCode; Rec."Currency Code") { Caption = 'Currency Code'; }
                field(variantCode; Rec."Variant Code") { Caption = 'Variant Code'; }
                field(unitOfMeasureCode; Rec."Unit of Measure Code") { Caption = 'Unit of Measure Code'; }
                field(minimumQuantity; Rec."Minimum Quantity") { Caption = 'Minimum Quantity'; }
                field(unitPrice; Rec."Unit Price") { Caption = 'Unit Price'; }
                field(priceIncludesVat; Rec."Price Includes VAT") { Caption = 'Price Includes VAT'; }
                field(lastModifiedDateTime; Rec.SystemModifiedAt) { Caption = 'Last Modified Date'; }
            }
        }
    }
}
