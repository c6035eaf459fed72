// API v2.0 has no resources page; RESOURCE-PRODUCT synchronizes resources with Dataverse products.
page 50105 "BCS Resource API"
{
    PageType = API;
    APIPublisher = 'bcsync';
    APIGroup = 'integration';
    APIVersion = 'v1.0';
    EntityName = 'resource';
    EntitySetName = 'resources';
    EntityCaption = 'Resource';
    EntitySetCaption = 'Resources';
    SourceTable = Resource;
    ODataKeyFields = SystemId;
    DelayedInsert = true;
    // Deletes are allowed for the PropagateDelete policy; BC's own OnDelete checks (ledger entries, open documents) still refuse what it must keep.
    Extensible = false;

    layout
    {
        area(Content)
        {
            repeater(Records)
            {
                field(id; Rec.SystemId) { Caption = 'Id'; Editable = false; }
                field(number; Rec."No.") { Caption = 'No.'; Editable = false; }
                field(name; Rec.Name) { Caption = 'Name'; }
                field(baseUnitOfMeasureCode; Rec."Base Unit of Measure") { Caption = 'Base Unit of Measure'; Editable = false; }
                field(unitPrice; Rec."Unit Price") { Caption = 'Unit Price'; Editable = false; }
                field(unitCost; Rec."Unit Cost") { Caption = 'Unit Cost'; Editable = false; }
                field(vendorNumber; Rec."Vendor No.") { Caption = 'Vendor No.'; Editable = false; }
                field(capacity; Rec.Capacity) { Caption = 'Capacity'; Editable = false; }
                field(blocked; Rec.Blocked) { Caption = 'Blocked'; Editable = false; }
                field(lastModifiedDateTime; Rec.SystemModifiedAt) { Caption = 'Last Modified Date'; Editable = false; }
            }
        }
    }
}
