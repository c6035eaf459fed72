// API v2.0 has no price list pages; PLHEADER-PRICE (new pricing experience) creates a Dataverse price list per header.
page 50112 "BCS Price List Header API"
{
    PageType = API;
    APIPublisher = 'bcsync';
    APIGroup = 'integration';
    APIVersion = 'v1.0';
    EntityName = 'priceListHeader';
    EntitySetName = 'priceListHeaders';
    EntityCaption = 'Price List Header';
    EntitySetCaption = 'Price List Headers';
    SourceTable = "Price List Header";
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
                field(code; Rec.Code) { Caption = 'Code'; }
                field(description; Rec.Description) { Caption = 'Description'; }
                field(sourceType; Rec."Source Type") { Caption = 'Source Type'; }
                field(sourceNumber; Rec."Source No.") { Caption = 'Source No.'; }
                field(priceType; Rec."Price Type") { Caption = 'Price Type'; }
                field(amountType; Rec."Amount Type") { Caption = 'Amount Type'; }
                field(currencyCode; Rec."Currency Code") { Caption = 'Currency Code'; }
                field(startingDate; Rec."Starting Date") { Caption = 'Starting Date'; }
                field(endingDate; Rec."Ending Date") { Caption = 'Ending Date'; }
                field(status; Rec.Status) { Caption = 'Status'; }
                field(allowUpdatingDefaults; Rec."Allow Updating Defaults") { Caption = 'Allow Updating Defaults'; }
                field(lastModifiedDateTime; Rec.SystemModifiedAt) { Caption = 'Last Modified Date'; }
            }
        }
    }
}
