// The sales order status as API v2.0 shows it (enum "Sales Order Entity Buffer Status"): the service treats
// 'Open' as Released, as on the standard salesOrders page. Kept in "BCS API Status" so it can be filtered on.
enum 50100 "BCS Order API Status"
{
    Extensible = false;

    value(0; Draft) { Caption = 'Draft'; }
    value(1; "In Review") { Caption = 'In Review'; }
    value(2; Open) { Caption = 'Open'; }
}
