// Sales Header has no field with the API v2.0 status meaning, and the service filters orders on it
// (status eq 'Open' = Released). Maintained by codeunit "BCS Integration Events".
tableextension 50100 "BCS Sales Header" extends "Sales Header"
{
    fields
    {
        field(50100; "BCS API Status"; Enum "BCS Order API Status")
        {
            Caption = 'API Status';
            DataClassification = SystemMetadata;
            Editable = false;
        }
    }

    keys
    {
        key(BCSApiStatus; "Document Type", "BCS API Status") { }
    }
}
