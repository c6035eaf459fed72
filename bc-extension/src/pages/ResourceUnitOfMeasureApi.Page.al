// API v2.0 has no resource units of measure page; RESOURCE UOM synchronizes them.
page 50110 "BCS Resource Unit of Meas. API"
{
    PageType = API;
    APIPublisher = 'bcsync';
    APIGroup = 'integration';
    APIVersion = 'v1.0';
    EntityName = 'resourceUnitOfMeasure';
    EntitySetName = 'resourceUnitsOfMeasure';
    EntityCaption = 'Resource Unit of Measure';
    EntitySetCaption = 'Resource Units of Measure';
    SourceTable = "Resource Unit of Measure";
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
                field(resourceNumber; Rec."Resource No.") { Caption = 'Resource No.'; }
                field(code; Rec.Code) { Caption = 'Code'; }
                field(qtyPerUnitOfMeasure; Rec."Qty. per Unit of Measure") { Caption = 'Qty. per Unit of Measure'; }
                field(lastModifiedDateTime; Rec.SystemModifiedAt) { Caption = 'Last Modified Date'; }
            }
        }
    }
}
