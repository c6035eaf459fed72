// Sales line types with the API v2.0 names (enum "Invoice Line Agg. Line Type"): the service writes 'Comment'
// for text lines, which the base enum "Sales Line Type" calls ' '.
enum 50101 "BCS API Line Type"
{
    Extensible = false;

    value(0; Comment) { Caption = 'Comment'; }
    value(1; Account) { Caption = 'Account'; }
    value(2; Item) { Caption = 'Item'; }
    value(3; Resource) { Caption = 'Resource'; }
    value(4; "Fixed Asset") { Caption = 'Fixed Asset'; }
    value(5; Charge) { Caption = 'Charge'; }
}
