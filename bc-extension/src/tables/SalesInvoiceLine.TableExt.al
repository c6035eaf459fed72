// Sales Invoice Line has no field holding its invoice's API id, and the service reads an invoice's lines with
// documentId eq <invoice id>. The id is the one API v2.0 salesInvoices shows ("Sales Invoice Entity Aggregate".Id):
// the draft invoice's SystemId when the invoice was posted from a draft, else the posted header's SystemId.
tableextension 50102 "BCS Sales Invoice Line" extends "Sales Invoice Line"
{
    fields
    {
        field(50100; "BCS Document Id"; Guid)
        {
            Caption = 'Document Id';
            DataClassification = SystemMetadata;
            Editable = false;
        }
    }

    keys
    {
        key(BCSDocumentId; "BCS Document Id") { }
    }
}
