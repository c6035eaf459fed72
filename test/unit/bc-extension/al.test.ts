import { describe, expect, it } from 'vitest';
import { parseAl } from '../../../shared/bc-extension/al';
import { AlParseError } from '../../../shared/bc-extension/al-tokens';

const PAGE = `// why: API v2.0 lacks Fax No.
page 50100 "Demo API"
{
    PageType = API;
    APIPublisher = 'bcsync';
    EntitySetName = 'demos';
    SourceTable = "Sales Header";
    SourceTableView = where("Document Type" = const(Order));
    ODataKeyFields = SystemId;
    /* a block
       comment with field(x; Rec.Nope) inside */
    layout
    {
        area(Content)
        {
            repeater(Records)
            {
                field(id; Rec.SystemId) { Caption = 'Id''s'; Editable = false; }
                field(number; Rec."No.") { }
                field(note; Note)
                {
                    trigger OnValidate()
                    var
                        X: Record "Sales Header";
                    begin
                        case X.Status of
                            X.Status::Open:
                                begin
                                end;
                        end;
                    end;
                }
                part(lines; "Demo Line API") { EntitySetName = 'demoLines'; SubPageLink = "Document No." = field("No."); }
            }
        }
    }

    var
        Note: Text;
        Code10: Code[10];
        Kind: Enum "Sales Line Type";

    trigger OnAfterGetRecord()
    begin
        Note := 'end';
    end;

    [ServiceEnabled]
    procedure Release(var ActionContext: WebServiceActionContext)
    var
        Local: Integer;
    begin
        Local := 1;
    end;

    local procedure Helper()
    begin
    end;
}
`;

describe('AL reader', () => {
  it('reads a page: properties, fields with their sources, parts, variables, service-enabled procedures', () => {
    const [page] = parseAl(PAGE, 'demo.al');
    expect(page).toMatchObject({ type: 'page', id: 50100, name: 'Demo API', file: 'demo.al', line: 2 });
    expect(page?.properties).toMatchObject({
      pagetype: 'API',
      apipublisher: 'bcsync',
      entitysetname: 'demos',
      sourcetable: 'Sales Header',
      sourcetableview: 'where("Document Type" = const(Order))',
      odatakeyfields: 'SystemId',
    });
    expect(page?.fields.map((f) => [f.name, f.source, f.hasOnValidate])).toEqual([
      ['id', { kind: 'field', field: 'SystemId' }, false],
      ['number', { kind: 'field', field: 'No.' }, false],
      ['note', { kind: 'variable', name: 'Note' }, true],
    ]);
    expect(page?.fields[0]?.properties).toEqual({ caption: "Id's", editable: 'false' });
    expect(page?.parts).toMatchObject([{ name: 'lines', page: 'Demo Line API', properties: { entitysetname: 'demoLines' } }]);
    expect(page?.variables).toEqual({ Note: 'Text', Code10: 'Code[10]', Kind: 'Enum "Sales Line Type"' });
    expect(page?.serviceEnabled).toEqual(['Release']);
    // Field accesses in code, with the table of the variable (a local record here); method calls are not fields.
    expect(page?.fieldRefs.map((r) => `${r.variable}.${r.field}@${r.table}`)).toEqual(['X.Status@Sales Header', 'X.Status@Sales Header']);
  });

  it('reads table extensions, enums and permission sets', () => {
    const objects = parseAl(
      `tableextension 50100 "Ext" extends "Sales Line"
{
    fields
    {
        field(50100; "BCS Document Id"; Guid) { Editable = false; }
        field(50101; Amount2; Decimal) { FieldClass = FlowField; }
    }
    keys { key(K; "BCS Document Id") { } }
}
enum 50100 "E" { Extensible = false; value(0; Draft) { Caption = 'Draft'; } value(2; "In Review") { } }
permissionset 50100 "P" { Assignable = true; Permissions = page "A B" = X, tabledata Customer = RIM; }
`,
      'x.al',
    );
    expect(objects.map((o) => o.type)).toEqual(['tableextension', 'enum', 'permissionset']);
    expect(objects[0]?.extends).toBe('Sales Line');
    expect(objects[0]?.tableFields).toMatchObject([
      { id: 50100, name: 'BCS Document Id', type: 'Guid', properties: { editable: 'false' } },
      { id: 50101, name: 'Amount2', type: 'Decimal', properties: { fieldclass: 'FlowField' } },
    ]);
    expect(objects[1]?.values).toEqual([
      { ordinal: 0, name: 'Draft' },
      { ordinal: 2, name: 'In Review' },
    ]);
    expect(objects[2]?.properties.permissions).toBe('page "A B" = X, tabledata Customer = RIM');
  });

  it('refuses what it does not understand, with file and line', () => {
    expect(() => parseAl('page 1 "A" { layout { area(C) { field(x; Rec.Name + 1) { } } } }', 'a.al')).toThrow(AlParseError);
    expect(() => parseAl('page 1 "A" { layout { area(C) { field(x; Rec.Name + 1) { } } } }', 'a.al')).toThrow(/a\.al:1: field x: source/);
    expect(() => parseAl('report 1 "A" { }', 'r.al')).toThrow(/expected an object declaration/);
    expect(() => parseAl('page 1 "A" { PageType = API }', 'p.al')).toThrow(/has no ';'/);
    expect(() => parseAl('page 1 "A" { Caption = \'open; }', 'p.al')).toThrow(/unterminated string/);
    expect(() => parseAl('page 1 "A" { trigger OnOpenPage() begin ', 'p.al')).toThrow(AlParseError);
  });
});
