import type { Row } from './errors';
import { type FilterNode, FUNCTIONS, type FunctionSpec, parseFilter } from './filter-parser';
import { compareFilterValues, isNullish, orderTest, readPath } from './values';

/*
 * The simulators' $filter evaluator: answers as the services' stores do, over rows they hold. The product's reading
 * of a record it already read is `evaluateFilter` (filter.ts).
 */

type Evaluator = (row: Row) => unknown;

function evalEquals(a: unknown, b: unknown): boolean {
  if (isNullish(a) || isNullish(b)) return isNullish(a) && isNullish(b);
  return compareFilterValues(a, b) === 0;
}

function compileNode(n: FilterNode): Evaluator {
  switch (n.k) {
    case 'lit': {
      const v = n.value;
      return () => v;
    }
    case 'prop': {
      const path = n.path;
      return (row) => readPath(row, path);
    }
    case 'call': {
      const spec = FUNCTIONS[n.fn] as FunctionSpec;
      const args = n.args.map(compileNode);
      const nullResult = spec.returns === 'bool' ? false : null;
      return (row) => {
        const values = args.map((a) => a(row));
        // OData: a function applied to null yields null, which a boolean context reads as false.
        if (values.some(isNullish)) return nullResult;
        return spec.impl(values);
      };
    }
    case 'cmp': {
      const l = compileNode(n.left);
      const r = compileNode(n.right);
      switch (n.op) {
        case 'eq':
          return (row) => evalEquals(l(row), r(row));
        case 'ne':
          return (row) => !evalEquals(l(row), r(row));
        default: {
          const test = orderTest(n.op);
          return (row) => {
            const a = l(row);
            const b = r(row);
            // Ordering against null is false in OData (and in SQL) rather than an error.
            if (isNullish(a) || isNullish(b)) return false;
            return test(compareFilterValues(a, b));
          };
        }
      }
    }
    case 'in': {
      const l = compileNode(n.left);
      const items = n.items.map((i) => (i.k === 'lit' ? i.value : null));
      return (row) => {
        const a = l(row);
        return items.some((v) => evalEquals(a, v));
      };
    }
    case 'and': {
      const l = compileNode(n.left);
      const r = compileNode(n.right);
      return (row) => l(row) === true && r(row) === true;
    }
    case 'or': {
      const l = compileNode(n.left);
      const r = compileNode(n.right);
      return (row) => l(row) === true || r(row) === true;
    }
    case 'not': {
      const o = compileNode(n.operand);
      return (row) => o(row) !== true;
    }
  }
}

/**
 * Compiles a $filter expression to a row predicate.
 *
 * Semantics (chosen to match how Dataverse and Business Central answer):
 * - strings (and GUIDs) compare case-insensitively for every operator; contains/startswith/endswith/indexof too;
 * - unquoted dates / DateTimeOffsets compare chronologically with ISO strings in the row;
 * - numbers compare numerically, also against numeric strings (Dataverse sends BigInt versionnumber as a string);
 * - `x eq null` is true when the property is null or absent; gt/ge/lt/le with a null side are false;
 * - logic is two-valued: `not e` is exactly the complement of `e` (a row either matches or not).
 *
 * Throws ODataQueryError at compile time for bad syntax, unknown functions or unsupported operators, and from the
 * returned predicate when a row value's type cannot be compared with the literal (e.g. `name gt 5` on text), which a
 * simulator should turn into a 400 like the real services do.
 */
export function compileFilter(expr: string): (row: Row) => boolean {
  const ev = compileNode(parseFilter(expr));
  return (row) => ev(row) === true;
}
