// Fills the extension's fields and the Unit Group rows for data that existed before the extension was installed
// or upgraded; from then on codeunit "BCS Integration Events" keeps them current.
codeunit 50101 "BCS Install"
{
    Subtype = Install;
    Permissions = tabledata "Sales Header" = rm,
                  tabledata "Sales Line" = rm,
                  tabledata "Sales Invoice Header" = r,
                  tabledata "Sales Invoice Line" = rm,
                  tabledata "Unit Group" = rimd;

    trigger OnInstallAppPerCompany()
    begin
        Backfill();
    end;

    /// <summary>Idempotent: safe to run again from the upgrade codeunit.</summary>
    procedure Backfill()
    var
        SalesHeader: Record "Sales Header";
        SalesLine: Record "Sales Line";
        SalesInvoiceHeader: Record "Sales Invoice Header";
        SalesInvoiceLine: Record "Sales Invoice Line";
        Item: Record Item;
        Resource: Record Resource;
        Events: Codeunit "BCS Integration Events";
    begin
        if SalesHeader.FindSet(true) then
            repeat
                SalesHeader."BCS API Status" := Events.ApiStatus(SalesHeader);
                SalesHeader.Modify(false);
                SalesLine.SetRange("Document Type", SalesHeader."Document Type");
                SalesLine.SetRange("Document No.", SalesHeader."No.");
                SalesLine.ModifyAll("BCS Document Id", SalesHeader.SystemId, false);
            until SalesHeader.Next() = 0;
        SalesLine.Reset();
        if SalesLine.FindSet(true) then
            repeat
                SalesLine."BCS API Line Type" := Events.ApiLineType(SalesLine.Type);
                SalesLine.Modify(false);
            until SalesLine.Next() = 0;
        if SalesInvoiceHeader.FindSet() then
            repeat
                SalesInvoiceLine.SetRange("Document No.", SalesInvoiceHeader."No.");
                SalesInvoiceLine.ModifyAll("BCS Document Id", Events.InvoiceApiId(SalesInvoiceHeader."No."), false);
            until SalesInvoiceHeader.Next() = 0;
        if Item.FindSet() then
            repeat
                Events.EnsureUnitGroup(Enum::"Unit Group Source Type"::Item, Item.SystemId, Item."No.");
            until Item.Next() = 0;
        if Resource.FindSet() then
            repeat
                Events.EnsureUnitGroup(Enum::"Unit Group Source Type"::Resource, Resource.SystemId, Resource."No.");
            until Resource.Next() = 0;
    end;
}
