// Sales Line has neither the header's SystemId nor the API v2.0 line type, and the service filters lines on
// both (documentId eq <order id>, lineType eq 'Item'). Maintained by codeunit "BCS Integration Events"; page
// "BCS Sales Order Line API" writes them through to "Document No." and Type.
tableextension 50101 "BCS Sales Line" extends "Sales Line"
{
    fields
    {
        field(50100; "BCS Document Id"; Guid)
        {
            Caption = 'Document Id';
            DataClassification = SystemMetadata;
        }
        field(50101; "BCS API Line Type"; Enum "BCS API Line Type")
        {
            Caption = 'API Line Type';
            DataClassification = SystemMetadata;
        }
    }

    keys
    {
        key(BCSDocumentId; "BCS Document Id") { }
    }
}
