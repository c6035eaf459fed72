// API v2.0 items lacks Unit Volume, Gross Weight, Vendor No. and Vendor Item No., which ITEM-PRODUCT synchronizes.
page 50104 "BCS Item API"
{
    PageType = API;
    APIPublisher = 'bcsync';
    APIGroup = 'integration';
    APIVersion = 'v1.0';
    EntityName = 'item';
    EntitySetName = 'items';
    EntityCaption = 'Item';
    EntitySetCaption = 'Items';
    SourceTable = Item;
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
                field(displayName; Rec.Description) { Caption = 'Description'; }
                field(baseUnitOfMeasureCode; Rec."Base Unit of Measure") { Caption = 'Base Unit of Measure'; }
                field(unitPrice; Rec."Unit Price") { Caption = 'Unit Price'; Editable = false; }
                field(unitCost; Rec."Unit Cost") { Caption = 'Unit Cost'; Editable = false; }
                field(inventory; Rec.Inventory) { Caption = 'Inventory'; Editable = false; }
                field(unitVolume; Rec."Unit Volume") { Caption = 'Unit Volume'; Editable = false; }
                field(grossWeight; Rec."Gross Weight") { Caption = 'Gross Weight'; Editable = false; }
                field(vendorNumber; Rec."Vendor No.") { Caption = 'Vendor No.'; Editable = false; }
                field(vendorItemNumber; Rec."Vendor Item No.") { Caption = 'Vendor Item No.'; Editable = false; }
                field(blocked; Rec.Blocked) { Caption = 'Blocked'; Editable = false; }
                field(lastModifiedDateTime; Rec.SystemModifiedAt) { Caption = 'Last Modified Date'; Editable = false; }
            }
        }
    }
}
