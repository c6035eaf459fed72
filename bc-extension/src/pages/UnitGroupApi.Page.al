// API v2.0 has no unit groups page; UNIT GROUP creates a Dataverse unit group per item and resource. The rows are created by codeunit "BCS Integration Events" (the base application only does so while its own Dataverse connection is on).
page 50108 "BCS Unit Group API"
{
    PageType = API;
    APIPublisher = 'bcsync';
    APIGroup = 'integration';
    APIVersion = 'v1.0';
    EntityName = 'unitGroup';
    EntitySetName = 'unitGroups';
    EntityCaption = 'Unit Group';
    EntitySetCaption = 'Unit Groups';
    SourceTable = "Unit Group";
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
                field(sourceType; Rec."Source Type") { Caption = 'Source Type'; }
                field(sourceId; Rec."Source Id") { Caption = 'Source Id'; }
                field(sourceNumber; Rec."Source No.") { Caption = 'Source No.'; }
                field(lastModifiedDateTime; Rec.SystemModifiedAt) { Caption = 'Last Modified Date'; }
            }
        }
    }
}
