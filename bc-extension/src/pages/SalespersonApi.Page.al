// API v2.0 salespeoplePurchasers (page 30075) only exists from BC 26; SALESPEOPLE reads the same fields here on
// every version the extension supports. Inserts are allowed because BC's own integration creates a salesperson for
// a Dataverse user that matches none (code SP NO. 0000n, IncStr on the last one; see the SALESPEOPLE mapping), so
// the code is editable; nothing is deleted.
page 50119 "BCS Salesperson API"
{
    PageType = API;
    APIPublisher = 'bcsync';
    APIGroup = 'integration';
    APIVersion = 'v1.0';
    EntityName = 'salespersonPurchaser';
    EntitySetName = 'salespeoplePurchasers';
    EntityCaption = 'Salesperson/Purchaser';
    EntitySetCaption = 'Salespeople/Purchasers';
    SourceTable = "Salesperson/Purchaser";
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
                field(code; Rec.Code) { Caption = 'Code'; }
                field(displayName; Rec.Name) { Caption = 'Name'; }
                field(email; Rec."E-Mail") { Caption = 'Email'; }
                field(email2; Rec."E-Mail 2") { Caption = 'Email 2'; }
                field(phoneNo; Rec."Phone No.") { Caption = 'Phone No.'; }
                field(jobTitle; Rec."Job Title") { Caption = 'Job Title'; }
                field(blocked; Rec.Blocked) { Caption = 'Blocked'; Editable = false; }
                field(lastModifiedDateTime; Rec.SystemModifiedAt) { Caption = 'Last Modified Date'; Editable = false; }
            }
        }
    }
}
