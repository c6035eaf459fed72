import { z } from 'zod';
import { CUSTOM_MAPPING_QUEUE } from './queue';
import { DirectionSchema, type TableMappingInput } from './schema';

/**
 * What an admin types to start a new mapping (BC's "New" on the Integration Table Mappings page): the two tables,
 * the direction and the field pairs. {@link draftMapping} fills in the rest with BC's defaults for a new record; the
 * result is then previewed and saved like any edited mapping, so the same checks apply.
 */
export const MappingDraftSchema = z.object({
  name: z.string().min(1),
  bc: z.object({
    /** `apiV2` = the standard API v2.0 page; `customApi` = the service's BC extension page. Default `apiV2`. */
    kind: z.enum(['apiV2', 'customApi']).default('apiV2'),
    entitySet: z.string().min(1),
    /** AL table name, e.g. `Customer`. */
    table: z.string().min(1),
    /** AL table number, e.g. 18. */
    tableId: z.coerce.number().int().positive(),
  }),
  dataverse: z.object({
    entityLogicalName: z.string().min(1),
    entitySet: z.string().min(1),
    /** Default `<entityLogicalName>id`, Dataverse's primary key naming. */
    primaryKey: z.string().min(1).optional(),
  }),
  direction: DirectionSchema,
  fields: z
    .array(z.object({ bcField: z.string().min(1), dataverseColumn: z.string().min(1), direction: DirectionSchema.optional() }))
    .min(1, 'fields: at least one field mapping'),
});
export type MappingDraft = z.input<typeof MappingDraftSchema>;

/** A complete mapping from a draft: polling change capture (no webhook set up yet), BC's 30-minute cadence, not coupled-only. */
export function draftMapping(input: unknown): TableMappingInput {
  const d = MappingDraftSchema.parse(input);
  return {
    name: d.name,
    bc: { kind: d.bc.kind, entitySet: d.bc.entitySet, table: d.bc.table, tableId: d.bc.tableId },
    dataverse: {
      entityLogicalName: d.dataverse.entityLogicalName,
      entitySet: d.dataverse.entitySet,
      primaryKey: d.dataverse.primaryKey ?? `${d.dataverse.entityLogicalName}id`,
      modifiedOnColumn: 'modifiedon',
    },
    direction: d.direction,
    synchOnlyCoupledRecords: false,
    ownership: 'None',
    changeCapture: { bc: 'polling', dataverse: 'polling' },
    polling: { intervalMinutes: 30, inactivityTimeoutMinutes: 1440 },
    queueName: CUSTOM_MAPPING_QUEUE,
    userDefined: true,
    fields: d.fields.map((f) => ({
      bcField: f.bcField,
      alField: f.bcField,
      dataverseColumn: f.dataverseColumn,
      direction: f.direction ?? d.direction,
    })),
  };
}
