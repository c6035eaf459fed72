// API v2.0 has no shipping agents page; SHIPPING AGENT couples agent codes with a Dataverse option set.
page 50106 "BCS Shipping Agent API"
{
    PageType = API;
    APIPublisher = 'bcsync';
    APIGroup = 'integration';
    APIVersion = 'v1.0';
    EntityName = 'shippingAgent';
    EntitySetName = 'shippingAgents';
    EntityCaption = 'Shipping Agent';
    EntitySetCaption = 'Shipping Agents';
    SourceTable = "Shipping Agent";
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
                field(name; Rec.Name) { Caption = 'Name'; }
                field(lastModifiedDateTime; Rec.SystemModifiedAt) { Caption = 'Last Modified Date'; }
            }
        }
    }
}
