// API v2.0 has no page over Contact Business Relation; the service reads it to link a contact's company to the
// customer or vendor coupled with an account.
page 50103 "BCS Contact Bus. Relation API"
{
    PageType = API;
    APIPublisher = 'bcsync';
    APIGroup = 'integration';
    APIVersion = 'v1.0';
    EntityName = 'contactBusinessRelation';
    EntitySetName = 'contactBusinessRelations';
    EntityCaption = 'Contact Business Relation';
    EntitySetCaption = 'Contact Business Relations';
    SourceTable = "Contact Business Relation";
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
                field(contactNumber; Rec."Contact No.") { Caption = 'Contact No.'; }
                field(businessRelationCode; Rec."Business Relation Code") { Caption = 'Business Relation Code'; }
                field(linkToTable; Rec."Link to Table") { Caption = 'Link to Table'; }
                field(linkNumber; Rec."No.") { Caption = 'No.'; }
                field(lastModifiedDateTime; Rec.SystemModifiedAt) { Caption = 'Last Modified Date'; }
            }
        }
    }
}
