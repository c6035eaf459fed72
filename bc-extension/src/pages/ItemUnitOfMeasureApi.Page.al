// ITEM UOM needs Item Unit of Measure rows keyed by SystemId, with webhooks; the API v2.0 items page exposes only the
// base unit, and we found no v2.0 page over this table.
page 50109 "BCS Item Unit of Measure API"
{
    PageType = API;
    APIPublisher = 'bcsync';
    APIGroup = 'integration';
    APIVersion = 'v1.0';
    EntityName = 'itemUnitOfMeasure';
    EntitySetName = 'itemUnitsOfMeasure';
    EntityCaption = 'Item Unit of Measure';
    EntitySetCaption = 'Item Units of Measure';
    SourceTable = "Item Unit of Measure";
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
                field(code; Rec.Code) { Caption = 'Code'; }
                field(qtyPerUnitOfMeasure; Rec."Qty. per Unit of Measure") { Caption = 'Qty. per Unit of Measure'; }
                field(lastModifiedDateTime; Rec.SystemModifiedAt) { Caption = 'Last Modified Date'; }
            }
        }
    }
}
