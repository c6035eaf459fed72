import type { MappingMetadataPort } from '../../domain/mappings/validate';
import type { BcEntityTarget } from '../../domain/ports';
import type { BcClient } from '../bc/client';
import type { DataverseClient } from './client';

/**
 * Both systems' metadata in the shape mapping validation asks for (`MappingMetadataPort`): Dataverse columns from
 * EntityDefinitions (option values as numbers), BC fields from each API route's `$metadata` (or a first record).
 *
 * The port names a BC entity set without its route, so unless `kindOf` says which route a set lives on, a field
 * is found when any route (API v2.0, then the custom API, then OData pages) has it on that entity set.
 */
export class ClientMappingMetadata implements MappingMetadataPort {
  constructor(
    private readonly bc: BcClient,
    private readonly dataverse: DataverseClient,
    private readonly kindOf?: (entitySet: string) => BcEntityTarget['kind'] | undefined,
  ) {}

  async dataverseColumn(
    entityLogicalName: string,
    column: string,
  ): Promise<{ type: string; options?: number[]; validForCreate?: boolean; validForUpdate?: boolean } | undefined> {
    const info = await this.dataverse.dataverseColumn(entityLogicalName, column);
    if (!info) return undefined;
    return {
      type: info.type,
      ...(info.options ? { options: info.options.map((o) => o.value) } : {}),
      // IsValidForCreate / IsValidForUpdate: mapping a BC field onto a column Dataverse sets itself is refused.
      ...(info.isValidForCreate !== undefined ? { validForCreate: info.isValidForCreate } : {}),
      ...(info.isValidForUpdate !== undefined ? { validForUpdate: info.isValidForUpdate } : {}),
    };
  }

  async bcField(entitySet: string, field: string): Promise<{ type: string } | undefined> {
    const known = this.kindOf?.(entitySet);
    const kinds: Array<BcEntityTarget['kind']> = known ? [known] : ['apiV2', 'customApi', 'odataPage'];
    for (const kind of kinds) {
      let info: Awaited<ReturnType<BcClient['bcField']>>;
      try {
        info = await this.bc.bcField({ kind, entitySet }, field);
      } catch (err) {
        // A route that does not exist on this environment (no custom API installed, no published pages) is "not here".
        if (!known && kind !== 'apiV2') continue;
        throw err;
      }
      if (info) return { type: info.type };
    }
    return undefined;
  }
}
