/**
 * OData v4 query options shared by the local Business Central and Dataverse simulators:
 * $filter, $orderby, $select, $top, $expand and the Prefer header. Every parse error is an ODataQueryError whose
 * message is meant for the client in a 400 response.
 */
export { ODataQueryError, type Row } from '../../shared/domain/odata/errors';
export { type FilterComparison, filterComparisons, filterProperties, hasOrOnDistinctFields } from '../../shared/domain/odata/filter';
export { compileFilter } from '../../shared/domain/odata/filter-compile';
export { type FilterNode, parseFilter } from '../../shared/domain/odata/filter-parser';
export {
  applySelect,
  compileOrderBy,
  type ExpandItem,
  orderByProperties,
  parseExpand,
  parseSelect,
  parseTop,
} from './options';
export { hasPreference, parseMaxPageSize } from './prefer';
