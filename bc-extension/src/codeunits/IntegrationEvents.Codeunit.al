// Keeps the extension's fields in step with the base application:
// - "BCS API Status" on Sales Header and "BCS API Line Type" / "BCS Document Id" on Sales Line, on every insert and
//   modify (database events are raised whether or not the caller runs the table triggers);
// - "BCS Document Id" on Sales Invoice Line when posting inserts it;
// - a Unit Group row per item and resource. The base application maintains these rows only while its own
//   Dynamics 365 Sales connection is enabled (Item/Resource UpdateItemUnitGroup checks IsIntegrationEnabled), and
//   the service replaces that connection.
codeunit 50100 "BCS Integration Events"
{
    Permissions = tabledata "Unit Group" = rimd;

    [EventSubscriber(ObjectType::Table, Database::"Sales Header", 'OnBeforeInsertEvent', '', false, false)]
    local procedure SalesHeaderOnBeforeInsert(var Rec: Record "Sales Header"; RunTrigger: Boolean)
    begin
        if Rec.IsTemporary() then
            exit;
        Rec."BCS API Status" := ApiStatus(Rec);
    end;

    [EventSubscriber(ObjectType::Table, Database::"Sales Header", 'OnBeforeModifyEvent', '', false, false)]
    local procedure SalesHeaderOnBeforeModify(var Rec: Record "Sales Header"; var xRec: Record "Sales Header"; RunTrigger: Boolean)
    begin
        if Rec.IsTemporary() then
            exit;
        Rec."BCS API Status" := ApiStatus(Rec);
    end;

    [EventSubscriber(ObjectType::Table, Database::"Sales Line", 'OnBeforeInsertEvent', '', false, false)]
    local procedure SalesLineOnBeforeInsert(var Rec: Record "Sales Line"; RunTrigger: Boolean)
    begin
        if Rec.IsTemporary() then
            exit;
        SetSalesLineFields(Rec);
    end;

    [EventSubscriber(ObjectType::Table, Database::"Sales Line", 'OnBeforeModifyEvent', '', false, false)]
    local procedure SalesLineOnBeforeModify(var Rec: Record "Sales Line"; var xRec: Record "Sales Line"; RunTrigger: Boolean)
    begin
        if Rec.IsTemporary() then
            exit;
        SetSalesLineFields(Rec);
    end;

    [EventSubscriber(ObjectType::Table, Database::"Sales Invoice Line", 'OnBeforeInsertEvent', '', false, false)]
    local procedure SalesInvoiceLineOnBeforeInsert(var Rec: Record "Sales Invoice Line"; RunTrigger: Boolean)
    begin
        if Rec.IsTemporary() then
            exit;
        Rec."BCS Document Id" := InvoiceApiId(Rec."Document No.");
    end;

    [EventSubscriber(ObjectType::Table, Database::Item, 'OnAfterInsertEvent', '', false, false)]
    local procedure ItemOnAfterInsert(var Rec: Record Item; RunTrigger: Boolean)
    begin
        if Rec.IsTemporary() then
            exit;
        EnsureUnitGroup(Enum::"Unit Group Source Type"::Item, Rec.SystemId, Rec."No.");
    end;

    [EventSubscriber(ObjectType::Table, Database::Item, 'OnAfterRenameEvent', '', false, false)]
    local procedure ItemOnAfterRename(var Rec: Record Item; var xRec: Record Item; RunTrigger: Boolean)
    begin
        if Rec.IsTemporary() then
            exit;
        EnsureUnitGroup(Enum::"Unit Group Source Type"::Item, Rec.SystemId, Rec."No.");
    end;

    [EventSubscriber(ObjectType::Table, Database::Item, 'OnAfterDeleteEvent', '', false, false)]
    local procedure ItemOnAfterDelete(var Rec: Record Item; RunTrigger: Boolean)
    begin
        if Rec.IsTemporary() then
            exit;
        DeleteUnitGroup(Enum::"Unit Group Source Type"::Item, Rec.SystemId);
    end;

    [EventSubscriber(ObjectType::Table, Database::Resource, 'OnAfterInsertEvent', '', false, false)]
    local procedure ResourceOnAfterInsert(var Rec: Record Resource; RunTrigger: Boolean)
    begin
        if Rec.IsTemporary() then
            exit;
        EnsureUnitGroup(Enum::"Unit Group Source Type"::Resource, Rec.SystemId, Rec."No.");
    end;

    [EventSubscriber(ObjectType::Table, Database::Resource, 'OnAfterRenameEvent', '', false, false)]
    local procedure ResourceOnAfterRename(var Rec: Record Resource; var xRec: Record Resource; RunTrigger: Boolean)
    begin
        if Rec.IsTemporary() then
            exit;
        EnsureUnitGroup(Enum::"Unit Group Source Type"::Resource, Rec.SystemId, Rec."No.");
    end;

    [EventSubscriber(ObjectType::Table, Database::Resource, 'OnAfterDeleteEvent', '', false, false)]
    local procedure ResourceOnAfterDelete(var Rec: Record Resource; RunTrigger: Boolean)
    begin
        if Rec.IsTemporary() then
            exit;
        DeleteUnitGroup(Enum::"Unit Group Source Type"::Resource, Rec.SystemId);
    end;

    /// <summary>The API v2.0 meaning of a sales document's status (as the Sales Order Entity Buffer computes it).</summary>
    procedure ApiStatus(SalesHeader: Record "Sales Header"): Enum "BCS Order API Status"
    begin
        case SalesHeader.Status of
            SalesHeader.Status::"Pending Approval":
                exit(Enum::"BCS Order API Status"::"In Review");
            SalesHeader.Status::Released, SalesHeader.Status::"Pending Prepayment":
                exit(Enum::"BCS Order API Status"::Open);
        end;
        exit(Enum::"BCS Order API Status"::Draft);
    end;

    /// <summary>Sales Line Type to the API v2.0 line type name.</summary>
    procedure ApiLineType(LineType: Enum "Sales Line Type"): Enum "BCS API Line Type"
    begin
        case LineType of
            LineType::" ":
                exit(Enum::"BCS API Line Type"::Comment);
            LineType::"G/L Account":
                exit(Enum::"BCS API Line Type"::Account);
            LineType::Item:
                exit(Enum::"BCS API Line Type"::Item);
            LineType::Resource:
                exit(Enum::"BCS API Line Type"::Resource);
            LineType::"Fixed Asset":
                exit(Enum::"BCS API Line Type"::"Fixed Asset");
        end;
        exit(Enum::"BCS API Line Type"::Charge);
    end;

    /// <summary>The API v2.0 line type name to Sales Line Type.</summary>
    procedure SalesLineType(ApiType: Enum "BCS API Line Type"): Enum "Sales Line Type"
    begin
        case ApiType of
            ApiType::Comment:
                exit(Enum::"Sales Line Type"::" ");
            ApiType::Account:
                exit(Enum::"Sales Line Type"::"G/L Account");
            ApiType::Item:
                exit(Enum::"Sales Line Type"::Item);
            ApiType::Resource:
                exit(Enum::"Sales Line Type"::Resource);
            ApiType::"Fixed Asset":
                exit(Enum::"Sales Line Type"::"Fixed Asset");
        end;
        exit(Enum::"Sales Line Type"::"Charge (Item)");
    end;

    /// <summary>The id API v2.0 salesInvoices gives a posted invoice: the draft's SystemId when it had one.</summary>
    procedure InvoiceApiId(InvoiceNo: Code[20]): Guid
    var
        SalesInvoiceHeader: Record "Sales Invoice Header";
    begin
        if not SalesInvoiceHeader.Get(InvoiceNo) then
            exit;
        if not IsNullGuid(SalesInvoiceHeader."Draft Invoice SystemId") then
            exit(SalesInvoiceHeader."Draft Invoice SystemId");
        exit(SalesInvoiceHeader.SystemId);
    end;

    local procedure SetSalesLineFields(var SalesLine: Record "Sales Line")
    var
        SalesHeader: Record "Sales Header";
    begin
        SalesLine."BCS API Line Type" := ApiLineType(SalesLine.Type);
        if IsNullGuid(SalesLine."BCS Document Id") then
            if SalesHeader.Get(SalesLine."Document Type", SalesLine."Document No.") then
                SalesLine."BCS Document Id" := SalesHeader.SystemId;
    end;

    /// <summary>Creates or renames the Unit Group row of an item or resource.</summary>
    procedure EnsureUnitGroup(SourceType: Enum "Unit Group Source Type"; SourceId: Guid; SourceNo: Code[20])
    var
        UnitGroup: Record "Unit Group";
    begin
        UnitGroup.SetRange("Source Type", SourceType);
        UnitGroup.SetRange("Source Id", SourceId);
        if UnitGroup.FindFirst() then begin
            if UnitGroup."Source No." <> SourceNo then begin
                UnitGroup."Source No." := SourceNo;
                UnitGroup.Modify(true);
            end;
            exit;
        end;
        UnitGroup.Init();
        UnitGroup."Source Type" := SourceType;
        UnitGroup."Source Id" := SourceId;
        UnitGroup."Source No." := SourceNo;
        UnitGroup.Insert(true);
    end;

    local procedure DeleteUnitGroup(SourceType: Enum "Unit Group Source Type"; SourceId: Guid)
    var
        UnitGroup: Record "Unit Group";
    begin
        UnitGroup.SetRange("Source Type", SourceType);
        UnitGroup.SetRange("Source Id", SourceId);
        UnitGroup.DeleteAll(true);
    end;
}
