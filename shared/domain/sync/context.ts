import { SyncError } from '../../errors';
import type { ChangeEvent } from '../change-event';
import { otherSide, sourceOf } from '../direction';
import type { SyncDirection, TableMapping } from '../mappings/schema';
import { bcTarget, dataverseTarget, recordSelect } from '../mappings/targets';
import type { MapRecordOptions } from '../mappings/transform';
import { resolveFilter } from '../odata/literal';
import type { BcEntityTarget, Coupling, DataverseEntityTarget, RecordGateway, Side, SyncResult, VersionedRecord } from '../ports';
import { CouplingResolver } from './coupling-resolver';
import type { RuleContext } from './rules';
import type { StepOutcome, SyncDeps, SyncOutcome } from './types';

/** A creation claim older than this, with nothing created, belonged to a worker that died. */
export const CLAIM_STALE_MS = 120_000;

/**
 * The engine's steps that other steps call back into (a restore re-creates through the uncoupled path, a first
 * synchronization runs the whole engine again), handed in so the step files need not import `sync-record.ts`.
 */
export interface Engine {
  syncUncoupled(ctx: RecordContext, sourceRecord: VersionedRecord): Promise<StepOutcome>;
  syncRecord(event: ChangeEvent, deps: SyncDeps, depth: number): Promise<SyncOutcome>;
}

/** One record's synchronization in one direction: what every step reads (mapping, sides, gateways, couplings). */
export class RecordContext {
  readonly source: Side;
  readonly dest: Side;
  readonly resolver: CouplingResolver;
  /** Option couplings and the LCY currency, loaded once per record on first need. */
  mapOptions: MapRecordOptions | undefined;

  constructor(
    readonly mapping: TableMapping,
    readonly event: ChangeEvent,
    readonly pass: SyncDirection,
    readonly deps: SyncDeps,
    readonly depth: number,
    readonly engine: Engine,
  ) {
    this.source = sourceOf(pass);
    this.dest = otherSide(this.source);
    this.resolver = new CouplingResolver(deps);
  }

  /** The same record in another mode (a restore runs as a manual sync). */
  with(event: ChangeEvent): RecordContext {
    return new RecordContext(this.mapping, event, this.pass, this.deps, this.depth, this.engine);
  }

  get dryRun(): boolean {
    return this.deps.options.dryRun === true;
  }

  /** An outcome nothing records: a no-op (disabled mapping, own echo, outside the filters…). */
  outcome(result: SyncResult, extra: Partial<SyncOutcome> = {}): StepOutcome {
    return { result, mapping: this.mapping.name, ...extra };
  }

  /**
   * An outcome the recorder books. `from` is the coupling the step started from (none when the pair was not
   * coupled): only its `openError === false` lets the recorder skip the error store.
   */
  book(result: SyncResult, extra: Partial<SyncOutcome>, from: Coupling | undefined, dryRun = this.dryRun): StepOutcome {
    return {
      result,
      mapping: this.mapping.name,
      ...extra,
      book: {
        direction: this.pass,
        correlationId: this.event.correlationId,
        ...(dryRun ? { dryRun: true } : {}),
        mayHaveOpenError: from?.openError !== false,
      },
    };
  }

  gateway(side: Side): RecordGateway {
    return (side === 'bc' ? this.deps.bc : this.deps.dataverse) as RecordGateway;
  }

  target(side: Side): BcEntityTarget | DataverseEntityTarget {
    return side === 'bc' ? bcTarget(this.mapping) : dataverseTarget(this.mapping);
  }

  select(side: Side): string[] | undefined {
    return recordSelect(this.mapping, side, this.deps.options.dataverseCompanyId);
  }

  ids(sourceId: string, destId?: string): { bcId?: string; dataverseId?: string } {
    return this.source === 'bc' ? { bcId: sourceId, dataverseId: destId } : { dataverseId: sourceId, bcId: destId };
  }

  destIdOf(c: Coupling): string {
    return this.dest === 'bc' ? c.bcId : c.dataverseId;
  }

  claimKey(sourceRecord: VersionedRecord): string {
    return `${this.mapping.name}/${sourceRecord.id}`;
  }

  async couplingOf(side: Side, id: string): Promise<Coupling | undefined> {
    const c =
      side === 'bc'
        ? await this.deps.couplings.getByBcId(this.mapping.name, id)
        : await this.deps.couplings.getByDataverseId(this.mapping.name, id);
    if (c && c.environment !== this.deps.options.environment) {
      throw new SyncError(
        'COUPLE.ENVIRONMENT_MISMATCH',
        `The coupling of ${this.mapping.name} record ${id} belongs to environment '${c.environment}', not '${this.deps.options.environment}'. ` +
          'Was this environment copied? Uncouple or re-couple its records before synchronizing.',
        { details: { coupledEnvironment: c.environment } },
      );
    }
    return c;
  }

  /** The side's table filter (BC) or integration table filter (Dataverse), `{companyId}` filled in. */
  filterOf(side: Side): string {
    const raw = side === 'bc' ? this.mapping.tableFilter : this.mapping.integrationTableFilter;
    return resolveFilter(raw, this.deps.options.dataverseCompanyId);
  }

  ruleContext(source: VersionedRecord): RuleContext {
    return {
      mapping: this.mapping,
      pass: this.pass,
      source,
      bc: this.deps.bc as RecordGateway,
      dataverse: this.deps.dataverse as RecordGateway,
      resolver: this.resolver,
      ...(this.deps.options.company ? { company: this.deps.options.company } : {}),
    };
  }
}
