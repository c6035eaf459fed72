import type { AlObject } from './al';
import { type BaseAppFields, pageRoute, tableFieldFacts } from './manifest';

/**
 * Structural check of the extension's AL, standing in for the AL compiler this repository cannot run: object ids
 * unique and inside app.json's idRanges, the properties every API page needs, unique field names per page, every
 * `Rec."…"` field present in its source table as Microsoft's base application declares it (or in one of our table
 * extensions), page variables declared, parts pointing at our pages, and a permission set covering every page.
 * Pure: parsed objects and raw file texts in, problems out (empty = fine).
 */

export interface AlProblem {
  file: string;
  line: number;
  message: string;
}

export interface AlSource {
  /** Path relative to the repository, e.g. `bc-extension/src/pages/CustomerApi.Page.al`. */
  file: string;
  text: string;
  objects: AlObject[];
}

export interface AppJson {
  idRanges: Array<{ from: number; to: number }>;
}

const REQUIRED_API_PROPERTIES = ['apipublisher', 'apigroup', 'apiversion', 'entityname', 'entitysetname', 'sourcetable', 'odatakeyfields'];
const isFalse = (v: string | undefined) => v?.toLowerCase() === 'false';

/** `tabledata "X" = RIMD` / `page "X" = X` entries of a permission set's Permissions property. */
export function permissionEntries(value: string): Array<{ objectType: string; name: string; rights: string }> {
  const out: Array<{ objectType: string; name: string; rights: string }> = [];
  for (const part of value.split(/,\s*/)) {
    const m = /^\s*(\w+)\s+(?:"([^"]+)"|(\w+))\s*=\s*(\w+)\s*$/.exec(part);
    if (m) out.push({ objectType: (m[1] as string).toLowerCase(), name: (m[2] ?? m[3]) as string, rights: (m[4] as string).toUpperCase() });
  }
  return out;
}

export function checkExtension(sources: readonly AlSource[], app: AppJson, facts: BaseAppFields): AlProblem[] {
  const problems: AlProblem[] = [];
  const objects = sources.flatMap((s) => s.objects);
  const add = (o: { file: string; line: number }, message: string) => problems.push({ file: o.file, line: o.line, message });
  const inRange = (id: number) => app.idRanges.some((r) => id >= r.from && id <= r.to);

  const seen = new Map<string, AlObject>();
  for (const o of objects) {
    if (!inRange(o.id)) add(o, `${o.type} ${o.id} "${o.name}" is outside app.json idRanges`);
    // AL object names are at most 30 characters (permission sets: 20).
    const maxName = o.type === 'permissionset' ? 20 : 30;
    if (o.name.length > maxName) add(o, `${o.type} name "${o.name}" is longer than ${maxName} characters`);
    for (const key of [`${o.type}#${o.id}`, `${o.type}:${o.name.toLowerCase()}`]) {
      const other = seen.get(key);
      if (other) add(o, `${o.type} ${o.id} "${o.name}" clashes with ${other.file} (same ${key.includes('#') ? 'id' : 'name'})`);
      else seen.set(key, o);
    }
    if (o.type === 'tableextension') {
      if (!o.extends || !facts.tables[o.extends])
        add(o, `tableextension "${o.name}" extends "${o.extends}", which is not in the base-application facts`);
      const base = o.extends ? facts.tables[o.extends] : undefined;
      for (const f of o.tableFields) {
        if (!inRange(f.id)) add({ file: o.file, line: f.line }, `field ${f.id} "${f.name}" is outside app.json idRanges`);
        if (f.name.length > 30) add({ file: o.file, line: f.line }, `field name "${f.name}" is longer than 30 characters`);
        if (base?.fields.some((b) => b.name.toLowerCase() === f.name.toLowerCase()))
          add({ file: o.file, line: f.line }, `field "${f.name}" already exists in "${o.extends}"`);
      }
    }
  }

  // Fields named in code: `Rec."X"`, `SalesHeader.Status`, `UnitGroup.SetRange("Source Id", …)`.
  for (const o of objects) {
    const byTable = new Map<string, ReturnType<typeof tableFieldFacts>>();
    for (const r of o.fieldRefs) {
      if (!byTable.has(r.table)) byTable.set(r.table, tableFieldFacts(r.table, facts, objects));
      const known = byTable.get(r.table);
      if (!known)
        add({ file: o.file, line: r.line }, `${r.variable}."${r.field}": table "${r.table}" is not in the base-application facts`);
      else if (!known.has(r.field.toLowerCase()))
        add({ file: o.file, line: r.line }, `${r.variable}."${r.field}" is not a field of table "${r.table}"`);
    }
  }

  const pages = objects.filter((o) => o.type === 'page');
  const pageNames = new Set(pages.map((p) => p.name));
  const permissions = objects.filter((o) => o.type === 'permissionset').flatMap((o) => permissionEntries(o.properties.permissions ?? ''));
  const granted = (objectType: string, name: string) =>
    permissions
      .filter((p) => p.objectType === objectType && p.name.toLowerCase() === name.toLowerCase())
      .map((p) => p.rights)
      .join('');

  for (const src of sources) {
    const firstLine = src.text.split('\n').find((l) => l.trim() !== '') ?? '';
    for (const page of src.objects.filter((o) => o.type === 'page')) {
      const p = page.properties;
      const at = (line: number) => ({ file: page.file, line });
      if (p.pagetype?.toLowerCase() !== 'api') {
        add(page, `page "${page.name}" is not PageType = API`);
        continue;
      }
      for (const req of REQUIRED_API_PROPERTIES) if (!p[req]) add(page, `API page "${page.name}" has no ${req} property`);
      if (!firstLine.trim().startsWith('//') || !/v2\.0/.test(src.text.split(/\n\s*page\s/i)[0] ?? ''))
        add(page, `API page "${page.name}" needs a leading comment saying why API v2.0 does not suffice`);
      const writable = !isFalse(p.editable) && (!isFalse(p.insertallowed) || !isFalse(p.modifyallowed));
      if (!isFalse(p.insertallowed) && !isFalse(p.editable) && p.delayedinsert?.toLowerCase() !== 'true')
        add(page, `API page "${page.name}" allows inserts but not DelayedInsert = true`);
      const table = p.sourcetable ?? '';
      const tableFacts = tableFieldFacts(table, facts, objects);
      if (!tableFacts) add(page, `page "${page.name}": source table "${table}" is not in the base-application facts`);
      const names = new Map<string, number>();
      for (const f of page.fields) {
        const lowerName = f.name.toLowerCase();
        if (names.has(lowerName))
          add(at(f.line), `page "${page.name}": field name ${f.name} is used twice (first on line ${names.get(lowerName)})`);
        else names.set(lowerName, f.line);
        if (f.source.kind === 'field') {
          if (tableFacts && !tableFacts.has(f.source.field.toLowerCase()))
            add(at(f.line), `page "${page.name}": field ${f.name} binds Rec."${f.source.field}", which table "${table}" does not declare`);
        } else if (!page.variables[f.source.name]) {
          add(at(f.line), `page "${page.name}": field ${f.name} shows ${f.source.name}, which is not a page variable`);
        }
      }
      const id = page.fields.find((f) => f.name === 'id');
      const key = p.odatakeyfields;
      if (id?.source.kind !== 'field' || id.source.field.toLowerCase() !== key?.toLowerCase())
        add(page, `API page "${page.name}": field id must bind the ODataKeyFields field (${key ?? 'none'})`);
      else if (key?.toLowerCase() !== 'systemid' && tableFacts?.get(key.toLowerCase())?.type !== 'Guid')
        add(page, `API page "${page.name}": a key other than SystemId must be a Guid field`);
      const modified = page.fields.find((f) => f.name === 'lastModifiedDateTime');
      const modifiedType = modified?.source.kind === 'field' ? tableFacts?.get(modified.source.field.toLowerCase())?.type : undefined;
      if (!modified || modifiedType !== 'DateTime')
        add(
          page,
          `API page "${page.name}": field lastModifiedDateTime must bind SystemModifiedAt (or the table's DateTime modified stamp)`,
        );
      else if (modified.source.kind === 'field' && modified.source.field !== 'SystemModifiedAt' && key?.toLowerCase() === 'systemid')
        add(page, `API page "${page.name}": lastModifiedDateTime must bind SystemModifiedAt`);
      for (const part of page.parts)
        if (!pageNames.has(part.page))
          add(at(part.line), `page "${page.name}": part ${part.name} shows "${part.page}", which is not in the extension`);

      // The permission set must let the app registration run the page and do what the page allows.
      if (!granted('page', page.name).includes('X')) add(page, `no permission set grants page "${page.name}" = X`);
      const rights = granted('tabledata', table);
      const need = ['R'];
      if (writable && !isFalse(p.insertallowed)) need.push('I');
      if (writable && !isFalse(p.modifyallowed) && page.fields.some((f) => !isFalse(f.properties.editable))) need.push('M');
      if (writable && !isFalse(p.deleteallowed)) need.push('D');
      for (const r of need)
        if (!rights.includes(r)) add(page, `no permission set grants tabledata "${table}" = ${r}, which page "${page.name}" needs`);
    }
  }

  const apiPages = pages.filter((pg) => pg.properties.pagetype?.toLowerCase() === 'api');
  const routes = new Set(apiPages.map(pageRoute));
  if (routes.size > 1) problems.push({ file: 'bc-extension', line: 0, message: `API pages use several routes: ${[...routes].join(', ')}` });
  const sets = new Map<string, AlObject>();
  for (const pg of apiPages) {
    const set = pg.properties.entitysetname?.toLowerCase() ?? '';
    const other = sets.get(set);
    if (other) add(pg, `entity set ${pg.properties.entitysetname} is also declared by "${other.name}"`);
    else sets.set(set, pg);
  }
  for (const e of objects.filter((o) => o.type === 'enum')) {
    const ords = new Set<number>();
    for (const v of e.values) {
      if (ords.has(v.ordinal)) add(e, `enum "${e.name}": value ${v.ordinal} is used twice`);
      ords.add(v.ordinal);
    }
  }
  return problems;
}
