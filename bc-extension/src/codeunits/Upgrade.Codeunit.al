// An upgrade from an earlier version of this extension fills what that version did not maintain.
codeunit 50102 "BCS Upgrade"
{
    Subtype = Upgrade;

    trigger OnUpgradePerCompany()
    var
        Install: Codeunit "BCS Install";
    begin
        Install.Backfill();
    end;
}
