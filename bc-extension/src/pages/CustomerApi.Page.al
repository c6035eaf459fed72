// API v2.0 customers lacks Contact, Fax No., Mobile Phone No., Shipping Agent Code and Primary Contact No., which
// the CUSTOMER mapping synchronizes. Same table and SystemId as v2.0 customers, so ids and webhooks agree.
page 50100 "BCS Customer API"
{
    PageType = API;
    APIPublisher = 'bcsync';
    APIGroup = 'integration';
    APIVersion = 'v1.0';
    EntityName = 'customer';
    EntitySetName = 'customers';
    EntityCaption = 'Customer';
    EntitySetCaption = 'Customers';
    SourceTable = Customer;
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
                field(displayName; Rec.Name) { Caption = 'Name'; }
                field(contactName; Rec.Contact) { Caption = 'Contact'; }
                field(addressLine1; Rec.Address) { Caption = 'Address'; }
                field(addressLine2; Rec."Address 2") { Caption = 'Address 2'; }
                field(city; Rec.City) { Caption = 'City'; }
                field(postalCode; Rec."Post Code") { Caption = 'Post Code'; }
                field(state; Rec.County) { Caption = 'County'; }
                field(country; Rec."Country/Region Code") { Caption = 'Country/Region Code'; }
                field(phoneNumber; Rec."Phone No.") { Caption = 'Phone No.'; }
                field(mobilePhoneNumber; Rec."Mobile Phone No.") { Caption = 'Mobile Phone No.'; }
                field(faxNumber; Rec."Fax No.") { Caption = 'Fax No.'; }
                field(email; Rec."E-Mail") { Caption = 'Email'; }
                field(website; Rec."Home Page") { Caption = 'Home Page'; }
                field(currencyCode; Rec."Currency Code") { Caption = 'Currency Code'; }
                field(paymentTermsId; Rec."Payment Terms Id") { Caption = 'Payment Terms Id'; }
                field(shipmentMethodId; Rec."Shipment Method Id") { Caption = 'Shipment Method Id'; }
                field(shippingAgentCode; Rec."Shipping Agent Code") { Caption = 'Shipping Agent Code'; }
                field(primaryContactNumber; Rec."Primary Contact No.") { Caption = 'Primary Contact No.'; }
                field(salespersonCode; Rec."Salesperson Code") { Caption = 'Salesperson Code'; Editable = false; }
                field(creditLimit; Rec."Credit Limit (LCY)") { Caption = 'Credit Limit (LCY)'; Editable = false; }
                field(blocked; Rec.Blocked) { Caption = 'Blocked'; Editable = false; }
                field(lastModifiedDateTime; Rec.SystemModifiedAt) { Caption = 'Last Modified Date'; Editable = false; }
            }
        }
    }
}
