// API v2.0 salesOrders has no release/reopen actions, keeps the bill-to fields read-only and lacks Your Reference,
// Work Description, Payment Discount %, Shipping Agent Code and Last Shipment Date, all of which SALESORDER-ORDER
// and the order rules use. Keyed by the Sales Header SystemId, which is also the v2.0 order id, and `status` has
// the v2.0 meaning ('Open' = Released) through "BCS API Status", so it can be filtered on.
page 50115 "BCS Sales Order API"
{
    PageType = API;
    APIPublisher = 'bcsync';
    APIGroup = 'integration';
    APIVersion = 'v1.0';
    EntityName = 'salesOrder';
    EntitySetName = 'salesOrders';
    EntityCaption = 'Sales Order';
    EntitySetCaption = 'Sales Orders';
    SourceTable = "Sales Header";
    SourceTableView = where("Document Type" = const(Order));
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
                // Writable on insert: the service creates orders with a deterministic id (Insert(true, true)).
                field(id; Rec.SystemId) { Caption = 'Id'; }
                field(number; Rec."No.") { Caption = 'No.'; Editable = false; }
                field(documentType; Rec."Document Type") { Caption = 'Document Type'; }
                field(customerNumber; Rec."Sell-to Customer No.") { Caption = 'Sell-to Customer No.'; }
                field(orderDate; Rec."Order Date") { Caption = 'Order Date'; Editable = false; }
                field(externalDocumentNumber; Rec."External Document No.") { Caption = 'External Document No.'; }
                field(yourReference; Rec."Your Reference") { Caption = 'Your Reference'; }
                field(currencyCode; Rec."Currency Code") { Caption = 'Currency Code'; }
                field(requestedDeliveryDate; Rec."Requested Delivery Date") { Caption = 'Requested Delivery Date'; }
                field(paymentDiscountPercent; Rec."Payment Discount %") { Caption = 'Payment Discount %'; }
                field(workDescription; WorkDescription)
                {
                    Caption = 'Work Description';

                    trigger OnValidate()
                    begin
                        Rec.SetWorkDescription(WorkDescription);
                    end;
                }
                field(billToName; Rec."Bill-to Name") { Caption = 'Bill-to Name'; Editable = false; }
                field(billToAddressLine1; Rec."Bill-to Address") { Caption = 'Bill-to Address'; }
                field(billToAddressLine2; Rec."Bill-to Address 2") { Caption = 'Bill-to Address 2'; }
                field(billToCity; Rec."Bill-to City") { Caption = 'Bill-to City'; }
                field(billToCountry; Rec."Bill-to Country/Region Code") { Caption = 'Bill-to Country/Region Code'; }
                field(billToState; Rec."Bill-to County") { Caption = 'Bill-to County'; }
                field(billToPostCode; Rec."Bill-to Post Code") { Caption = 'Bill-to Post Code'; }
                field(shipToName; Rec."Ship-to Name") { Caption = 'Ship-to Name'; }
                field(shipToContact; Rec."Ship-to Contact") { Caption = 'Ship-to Contact'; }
                field(shipToAddressLine1; Rec."Ship-to Address") { Caption = 'Ship-to Address'; }
                field(shipToAddressLine2; Rec."Ship-to Address 2") { Caption = 'Ship-to Address 2'; }
                field(shipToCity; Rec."Ship-to City") { Caption = 'Ship-to City'; }
                field(shipToCountry; Rec."Ship-to Country/Region Code") { Caption = 'Ship-to Country/Region Code'; }
                field(shipToState; Rec."Ship-to County") { Caption = 'Ship-to County'; }
                field(shipToPostCode; Rec."Ship-to Post Code") { Caption = 'Ship-to Post Code'; }
                field(shippingAgentCode; Rec."Shipping Agent Code") { Caption = 'Shipping Agent Code'; }
                // Sales Header holds codes only; the service maps payment terms and shipment methods by SystemId.
                field(paymentTermsId; PaymentTermsId)
                {
                    Caption = 'Payment Terms Id';

                    trigger OnValidate()
                    var
                        PaymentTerms: Record "Payment Terms";
                    begin
                        if IsNullGuid(PaymentTermsId) then
                            Rec.Validate("Payment Terms Code", '')
                        else begin
                            PaymentTerms.GetBySystemId(PaymentTermsId);
                            Rec.Validate("Payment Terms Code", PaymentTerms.Code);
                        end;
                    end;
                }
                field(shipmentMethodId; ShipmentMethodId)
                {
                    Caption = 'Shipment Method Id';

                    trigger OnValidate()
                    var
                        ShipmentMethod: Record "Shipment Method";
                    begin
                        if IsNullGuid(ShipmentMethodId) then
                            Rec.Validate("Shipment Method Code", '')
                        else begin
                            ShipmentMethod.GetBySystemId(ShipmentMethodId);
                            Rec.Validate("Shipment Method Code", ShipmentMethod.Code);
                        end;
                    end;
                }
                field(salesperson; Rec."Salesperson Code") { Caption = 'Salesperson Code'; Editable = false; }
                field(status; Rec."BCS API Status") { Caption = 'Status'; Editable = false; }
                field(discountAmount; Rec."Invoice Discount Amount") { Caption = 'Invoice Discount Amount'; Editable = false; }
                field(totalAmountExcludingTax; Rec.Amount) { Caption = 'Amount'; Editable = false; }
                field(totalAmountIncludingTax; Rec."Amount Including VAT") { Caption = 'Amount Including VAT'; Editable = false; }
                field(lastShipmentDate; Rec."Last Shipment Date") { Caption = 'Last Shipment Date'; Editable = false; }
                field(fullyShipped; Rec."Completely Shipped") { Caption = 'Completely Shipped'; Editable = false; }
                field(lastModifiedDateTime; Rec.SystemModifiedAt) { Caption = 'Last Modified Date'; Editable = false; }
                part(salesOrderLines; "BCS Sales Order Line API")
                {
                    Caption = 'Lines';
                    EntityName = 'salesOrderLine';
                    EntitySetName = 'salesOrderLines';
                    SubPageLink = "Document Type" = field("Document Type"), "Document No." = field("No.");
                }
            }
        }
    }

    var
        WorkDescription: Text;
        PaymentTermsId: Guid;
        ShipmentMethodId: Guid;

    trigger OnAfterGetRecord()
    var
        PaymentTerms: Record "Payment Terms";
        ShipmentMethod: Record "Shipment Method";
    begin
        WorkDescription := Rec.GetWorkDescription();
        Clear(PaymentTermsId);
        Clear(ShipmentMethodId);
        if PaymentTerms.Get(Rec."Payment Terms Code") then
            PaymentTermsId := PaymentTerms.SystemId;
        if ShipmentMethod.Get(Rec."Shipment Method Code") then
            ShipmentMethodId := ShipmentMethod.SystemId;
    end;

    trigger OnInsertRecord(BelowxRec: Boolean): Boolean
    begin
        // Keep the SystemId the caller chose, so a retried create finds the same order.
        Rec.Insert(true, true);
        exit(false);
    end;

    /// <summary>Releases the order (Microsoft.NAV.release), as the Release action of the Sales Order page does.</summary>
    [ServiceEnabled]
    procedure Release(var ActionContext: WebServiceActionContext)
    var
        ReleaseSalesDocument: Codeunit "Release Sales Document";
    begin
        ReleaseSalesDocument.PerformManualRelease(Rec);
        SetActionResponse(ActionContext);
    end;

    /// <summary>Reopens a released order (Microsoft.NAV.reopen) so its lines can be changed.</summary>
    [ServiceEnabled]
    procedure Reopen(var ActionContext: WebServiceActionContext)
    var
        ReleaseSalesDocument: Codeunit "Release Sales Document";
    begin
        ReleaseSalesDocument.PerformManualReopen(Rec);
        SetActionResponse(ActionContext);
    end;

    local procedure SetActionResponse(var ActionContext: WebServiceActionContext)
    begin
        ActionContext.SetObjectType(ObjectType::Page);
        ActionContext.SetObjectId(Page::"BCS Sales Order API");
        ActionContext.AddEntityKey(Rec.FieldNo(SystemId), Rec.SystemId);
        ActionContext.SetResultCode(WebServiceActionResultCode::Updated);
    end;
}
