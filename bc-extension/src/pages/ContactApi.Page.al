// API v2.0 contacts lacks First/Middle Name, Surname, Fax No., Pager, Currency Code, Salutation Code and
// Salesperson Code, which the CONTACT mapping synchronizes.
page 50102 "BCS Contact API"
{
    PageType = API;
    APIPublisher = 'bcsync';
    APIGroup = 'integration';
    APIVersion = 'v1.0';
    EntityName = 'contact';
    EntitySetName = 'contacts';
    EntityCaption = 'Contact';
    EntitySetCaption = 'Contacts';
    SourceTable = Contact;
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
                field(type; Rec.Type) { Caption = 'Type'; }
                field(displayName; Rec.Name) { Caption = 'Name'; Editable = false; }
                field(companyNumber; Rec."Company No.") { Caption = 'Company No.'; }
                field(firstName; Rec."First Name") { Caption = 'First Name'; }
                field(middleName; Rec."Middle Name") { Caption = 'Middle Name'; }
                field(surname; Rec.Surname) { Caption = 'Surname'; }
                field(addressLine1; Rec.Address) { Caption = 'Address'; }
                field(addressLine2; Rec."Address 2") { Caption = 'Address 2'; }
                field(city; Rec.City) { Caption = 'City'; }
                field(postalCode; Rec."Post Code") { Caption = 'Post Code'; }
                field(state; Rec.County) { Caption = 'County'; }
                field(country; Rec."Country/Region Code") { Caption = 'Country/Region Code'; }
                field(phoneNumber; Rec."Phone No.") { Caption = 'Phone No.'; }
                field(mobilePhoneNumber; Rec."Mobile Phone No.") { Caption = 'Mobile Phone No.'; }
                field(faxNumber; Rec."Fax No.") { Caption = 'Fax No.'; }
                field(pager; Rec.Pager) { Caption = 'Pager'; }
                field(email; Rec."E-Mail") { Caption = 'Email'; }
                field(website; Rec."Home Page") { Caption = 'Home Page'; }
                field(currencyCode; Rec."Currency Code") { Caption = 'Currency Code'; }
                field(salutationCode; Rec."Salutation Code") { Caption = 'Salutation Code'; }
                field(salespersonCode; Rec."Salesperson Code") { Caption = 'Salesperson Code'; Editable = false; }
                field(lastModifiedDateTime; Rec.SystemModifiedAt) { Caption = 'Last Modified Date'; Editable = false; }
            }
        }
    }
}
