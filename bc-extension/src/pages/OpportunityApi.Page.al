// API v2.0 opportunities (page 30070) lacks Contact Company No. and Probability %, which OPPORTUNITY maps.
page 50114 "BCS Opportunity API"
{
    PageType = API;
    APIPublisher = 'bcsync';
    APIGroup = 'integration';
    APIVersion = 'v1.0';
    EntityName = 'opportunity';
    EntitySetName = 'opportunities';
    EntityCaption = 'Opportunity';
    EntitySetCaption = 'Opportunities';
    SourceTable = Opportunity;
    ODataKeyFields = SystemId;
    DelayedInsert = true;
    DeleteAllowed = false;
    Extensible = false;

    layout
    {
        area(Content)
        {
            repeater(Records)
            {
                field(id; Rec.SystemId) { Caption = 'Id'; Editable = false; }
                field(number; Rec."No.") { Caption = 'No.'; Editable = false; }
                field(description; Rec.Description) { Caption = 'Description'; }
                field(contactNumber; Rec."Contact No.") { Caption = 'Contact No.'; Editable = false; }
                field(contactCompanyNumber; Rec."Contact Company No.") { Caption = 'Contact Company No.'; Editable = false; }
                field(salespersonCode; Rec."Salesperson Code") { Caption = 'Salesperson Code'; Editable = false; }
                field(status; Rec.Status) { Caption = 'Status'; Editable = false; }
                field(creationDate; Rec."Creation Date") { Caption = 'Creation Date'; Editable = false; }
                field(dateClosed; Rec."Date Closed") { Caption = 'Date Closed'; Editable = false; }
                field(estimatedValue; Rec."Estimated Value (LCY)") { Caption = 'Estimated Value (LCY)'; Editable = false; }
                field(estimatedClosingDate; Rec."Estimated Closing Date") { Caption = 'Estimated Closing Date'; Editable = false; }
                field(probabilityPercent; Rec."Probability %") { Caption = 'Probability %'; Editable = false; }
                field(calculatedCurrentValue; Rec."Calcd. Current Value (LCY)") { Caption = 'Calcd. Current Value (LCY)'; Editable = false; }
                field(lastModifiedDateTime; Rec.SystemModifiedAt) { Caption = 'Last Modified Date'; Editable = false; }
            }
        }
    }
}
