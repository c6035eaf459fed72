// API v2.0 has no customer price groups page; CUSTPRCGRP-PRICE creates a Dataverse price list per group.
page 50107 "BCS Customer Price Group API"
{
    PageType = API;
    APIPublisher = 'bcsync';
    APIGroup = 'integration';
    APIVersion = 'v1.0';
    EntityName = 'customerPriceGroup';
    EntitySetName = 'customerPriceGroups';
    EntityCaption = 'Customer Price Group';
    EntitySetCaption = 'Customer Price Groups';
    SourceTable = "Customer Price Group";
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
                field(lastModifiedDateTime; Rec.SystemModifiedAt) { Caption = 'Last Modified Date'; }
            }
        }
    }
}
